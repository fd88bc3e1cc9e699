"""MTA-STS (RFC 8461): discovering, fetching, parsing and applying a domain's policy.

A domain announces a policy with a TXT record at ``_mta-sts.<domain>``
(``v=STSv1; id=...``, section 3.1) and serves the policy itself over HTTPS at
``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (section 3.3). The
policy lists the MX host patterns a sender may deliver to and a mode:

- ``enforce``: deliver only to a listed MX that presents a certificate valid
  under the Web PKI for its name; otherwise do not deliver (section 5);
- ``testing``: check the same things, report failures through TLS-RPT, and
  deliver anyway;
- ``none``: the domain withdraws its policy.

A sender that cannot fetch or parse the policy, and has none cached, carries
on as though the domain had no policy (section 5) and reports the failure
(RFC 8460 result types sts-policy-fetch-error, sts-policy-invalid,
sts-webpki-invalid). The harness keeps no policy cache.

The policy host here is the loopback HTTPS server of ``policyhost``. The
client resolves ``mta-sts.<domain>`` through the fake DNS and maps the
address to its real port, as it does for the MX.
"""

from __future__ import annotations

import enum
import socket
import ssl
from dataclasses import dataclass, field
from typing import Mapping

import dns.exception
import dns.resolver

from . import timeouts
from .classify import classify_tls_error
from .loopback import is_loopback
from .outcome import FailureClass
from .pki import CertificateSpec, fill_names

C = FailureClass

POLICY_PATH = "/.well-known/mta-sts.txt"

# Section 3.2: max_age is at most 31557600 seconds (about one year).
MAX_AGE_LIMIT = 31557600

# Our own limit, not the RFC's: 64 KiB is far above any real policy and keeps
# a misbehaving host from feeding the client without end.
POLICY_SIZE_LIMIT = 64 * 1024


class Mode(str, enum.Enum):
    """The policy modes of section 5."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class Fetch(str, enum.Enum):
    """The simulated policy host's response, as a scenario chooses it."""

    OK = "ok"  # 200 with the policy as text/plain
    NOT_FOUND = "not-found"  # 404: the file is missing from .well-known
    REDIRECT = "redirect"  # 301: section 3.3 forbids following redirects
    NO_HOST = "no-host"  # mta-sts.<domain> has no address record


@dataclass(frozen=True)
class MtaStsSpec:
    """A scenario's MTA-STS set-up: the TXT record, the policy and its HTTPS host.

    ``mx`` patterns and ``body`` may use ``{mx}`` and ``{domain}``. ``body``,
    when given, replaces the policy text built from ``mode``, ``mx`` and
    ``max_age``, so a scenario can serve a malformed policy.
    """

    mode: str = "enforce"
    mx: tuple[str, ...] = ("{mx}",)
    max_age: int = 86400
    txt: str = "v=STSv1; id=20260101T000000Z;"
    body: str | None = None
    fetch: Fetch = Fetch.OK
    certificate: CertificateSpec = field(default_factory=lambda: CertificateSpec(names=("mta-sts.{domain}",)))

    def policy_text(self, mx: str, domain: str) -> str:
        """Return the policy file as the host serves it."""
        if self.body is not None:
            return fill_names(self.body, mx, domain)
        lines = ["version: STSv1", f"mode: {self.mode}"]
        lines += [f"mx: {fill_names(pattern, mx, domain)}" for pattern in self.mx]
        lines.append(f"max_age: {self.max_age}")
        return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True)
class Policy:
    """A parsed, valid policy (section 3.2)."""

    mode: Mode
    max_age: int
    mx: tuple[str, ...]
    text: str

    @property
    def lines(self) -> tuple[str, ...]:
        """The policy as TLS-RPT's policy-string wants it: one entry per line."""
        return tuple(line for line in self.text.replace("\r\n", "\n").split("\n") if line.strip())

    def matches(self, mx_host: str) -> bool:
        return any(mx_matches(pattern, mx_host) for pattern in self.mx)


class PolicyError(Exception):
    """The policy could not be used; carries its TLS-RPT result type and our reason."""

    def __init__(self, failure_class: FailureClass, reason: str, message: str,
                 verify_code: int | None = None) -> None:
        super().__init__(message)
        self.failure_class = failure_class
        self.reason = reason
        self.verify_code = verify_code


# Parsing

def parse_txt(strings: list[str]) -> str | None:
    """Return the policy id of the ``_mta-sts`` TXT record set, or None when there is no valid one.

    Section 3.1: exactly one record must start with ``v=STSv1``; fields are
    ``key=value`` separated by ``;``; ``id`` is 1 to 32 letters and digits.
    Several STS records, or one without a valid id, count as no policy.
    """
    candidates = [text for text in strings if text.replace(" ", "").startswith("v=STSv1")]
    if len(candidates) != 1:
        return None
    fields = {}
    for part in candidates[0].split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            fields[key.strip()] = value.strip()
    policy_id = fields.get("id", "")
    if fields.get("v") != "STSv1" or not (1 <= len(policy_id) <= 32 and policy_id.isalnum()):
        return None
    return policy_id


def parse_policy(text: str) -> Policy:
    """Parse a policy file per section 3.2, or raise PolicyError (sts-policy-invalid).

    Lines are ``key: value`` and end in LF or CRLF. ``version`` must be
    ``STSv1``; ``mode`` one of enforce, testing, none; ``max_age`` a whole
    number of seconds up to 31557600; ``mx`` appears once per pattern and at
    least once unless the mode is none. Unknown keys are ignored, so later
    extensions do not break older senders.
    """
    fields: dict[str, list[str]] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise _invalid("bad-line", f"line {number} {line!r} is not 'key: value'")
        fields.setdefault(key.strip(), []).append(value.strip())

    if fields.get("version") != ["STSv1"]:
        raise _invalid("bad-version", f"version is {fields.get('version')}, expected exactly one 'STSv1'")
    mode = _one(fields, "mode")
    if mode not in {m.value for m in Mode}:
        raise _invalid("bad-mode", f"mode {mode!r} is not enforce, testing or none")
    max_age = _one(fields, "max_age")
    if not max_age.isdigit() or int(max_age) > MAX_AGE_LIMIT:
        raise _invalid("bad-max-age", f"max_age {max_age!r} is not a whole number from 0 to {MAX_AGE_LIMIT}")
    patterns = tuple(fields.get("mx", []))
    if not patterns and mode != Mode.NONE.value:
        raise _invalid("no-mx", f"a policy in mode {mode} lists no mx pattern")
    return Policy(Mode(mode), int(max_age), patterns, text)


def _one(fields: dict[str, list[str]], key: str) -> str:
    values = fields.get(key, [])
    if len(values) != 1:
        raise _invalid(f"bad-{key.replace('_', '-')}", f"{key} appears {len(values)} times, expected once")
    return values[0]


def _invalid(reason: str, message: str) -> PolicyError:
    return PolicyError(C.STS_POLICY_INVALID, reason, f"MTA-STS policy is invalid: {message}")


def mx_matches(pattern: str, host: str) -> bool:
    """Match an MX host name against a policy pattern (section 4.1).

    A pattern is a full host name, or ``*.`` followed by a domain, which
    stands for exactly one leftmost label: ``*.example.test`` matches
    ``mx.example.test`` but neither ``example.test`` nor ``a.mx.example.test``.
    Comparison ignores case and a trailing dot.
    """
    pattern = pattern.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return pattern == host


# Discovery and fetching

@dataclass(frozen=True)
class Discovery:
    """The result of discovery: no record, or a policy id and the fetched policy or the error."""

    policy_id: str | None = None
    policy: Policy | None = None
    error: PolicyError | None = None

    @property
    def found(self) -> bool:
        return self.policy_id is not None


def discover(domain: str, resolver: dns.resolver.Resolver, cafile: str,
             https_ports: Mapping[str, int]) -> Discovery:
    """Look up ``_mta-sts.<domain>``, and when it announces a policy, fetch and parse it."""
    try:
        answer = resolver.resolve(f"_mta-sts.{domain}", "TXT")
        strings = [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
    except dns.exception.DNSException:
        return Discovery()
    policy_id = parse_txt(strings)
    if policy_id is None:
        return Discovery()
    try:
        text = fetch_policy(domain, resolver, cafile, https_ports)
        return Discovery(policy_id, parse_policy(text))
    except PolicyError as error:
        return Discovery(policy_id, error=error)


def fetch_policy(domain: str, resolver: dns.resolver.Resolver, cafile: str,
                 https_ports: Mapping[str, int]) -> str:
    """Fetch the policy over HTTPS with Web PKI validation; raise PolicyError on any failure."""
    host = f"mta-sts.{domain}"
    address = _policy_address(host, resolver)
    port = https_ports.get(address, 443)
    try:
        raw = _https_get(host, address, port, cafile)
    except ssl.SSLCertVerificationError as error:
        failure = classify_tls_error(error)
        raise PolicyError(C.STS_WEBPKI_INVALID, failure.reason,
                          f"certificate of policy host {host} failed validation: {error}",
                          verify_code=error.verify_code) from error
    except (ssl.SSLError, OSError) as error:
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, "https-failed",
                          f"fetching https://{host}{POLICY_PATH} failed: {error or repr(error)}") from error
    return _policy_body(host, raw)


def _policy_address(host: str, resolver: dns.resolver.Resolver) -> str:
    try:
        address = resolver.resolve(host, "A")[0].address
    except dns.exception.DNSException as error:
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, "policy-host-not-found",
                          f"policy host {host} has no address: {error}") from error
    if not is_loopback(address):
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, "not-loopback",
                          f"policy host {host} resolves to {address}, outside loopback: not connecting")
    return address


def _https_get(host: str, address: str, port: int, cafile: str) -> bytes:
    context = webpki_context(cafile)
    with socket.create_connection((address, port), timeout=timeouts.POLICY_FETCH_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            request = f"GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode("ascii"))
            chunks: list[bytes] = []
            size = 0
            while size <= POLICY_SIZE_LIMIT:
                chunk = tls.recv(16384)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    return b"".join(chunks)


def webpki_context(cafile: str) -> ssl.SSLContext:
    """Return the context that validates the policy host: the simulated public roots only, names by SAN."""
    context = ssl.create_default_context(cafile=cafile)
    context.hostname_checks_common_name = False
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _policy_body(host: str, raw: bytes) -> str:
    """Check the HTTP response (section 3.3: 200 only, no redirects) and return the body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, "bad-http-response",
                          f"policy host {host} sent no HTTP status line: {status_line!r}")
    status = int(parts[1])
    if status != 200:
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, f"http-{status}",
                          f"https://{host}{POLICY_PATH} answered {status_line!r}; only 200 is accepted "
                          "and redirects are not followed (RFC 8461 section 3.3)")
    if len(body) > POLICY_SIZE_LIMIT:
        raise PolicyError(C.STS_POLICY_FETCH_ERROR, "policy-too-large",
                          f"policy from {host} is larger than {POLICY_SIZE_LIMIT} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(C.STS_POLICY_INVALID, "not-utf8", f"policy from {host} is not UTF-8: {error}") from error
