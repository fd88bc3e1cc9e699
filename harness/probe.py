"""Probing a mail host as Outlook.com would, and naming every problem, not only the first.

A strict sender stops at the first failure: a host that speaks only TLS 1.0
with a self-signed certificate shows only "protocol version", and after the
admin enables TLS 1.2 the next attempt fails on the certificate. The probe
first makes the strict attempt (the strict client's settings: STARTTLS
required, SNI with the MX name, TLS 1.2 and 1.3 with Microsoft's suites,
chain verified against the trust store, name matched against subjectAltName
only), then re-probes with relaxed settings to learn what the host really
offers, and checks the leaf's revocation as the strict client does after
its handshake:

- each protocol version from TLS 1.0 to 1.3 alone (security level 0 where
  OpenSSL 3 needs it for the old ones);
- Microsoft's TLS 1.2 suites against every suite this OpenSSL knows, when
  TLS 1.2 is the best the host speaks;
- the chain sent with and without SNI, judged property by property
  (``certcheck``): trust (OpenSSL's verify code from a handshake that
  checks the chain and nothing else), dates, names, key size, signature,
  CRL and OCSP;
- STARTTLS advertised, accepted and required;
- forward-confirmed reverse DNS of the address (``stubresolver``).

A probe is a command an admin runs again and again, so it starts fast: it
reads certificates with ``certparse`` and queries DNS with ``stubresolver``,
both standard library only, and imports cryptography only to check a CRL
or an OCSP response (see docs/benchmarks.md for the measured start-up).

Each problem becomes a ``Finding`` with its class, severity, evidence and the
catalog scenario that teaches it. The probe never sends a message: it stops
after the handshake (and after MAIL FROM, reset at once, to learn whether
plaintext is accepted).

It connects only where the user points it: the host given, or the MX of the
domain given, through the resolver given.

NOTE: MTA-STS policies and DANE TLSA records are not checked yet: the probe
judges what a sender with TLS enforced sees, whatever the policy says.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from . import timeouts
from .certcheck import (LeafSummary, check_leaf, check_revocation, find_issuer, is_address, name_matches, san_names,
                        summarize, trust_finding)
from .certparse import CertificateFacts, CertificateParseError, parse_certificate
from .classify import TLSFailure, classify_tls_error
from .errors import ConfigurationError, HarnessError
from .findings import Finding, Severity, deduplicate, ordered, with_lessons
from .outcome import FailureClass, Reply
from .smtpwire import SMTPDisconnected, SMTPProtocolError, SMTPTimeout, Wire
from .stubresolver import DnsLookupError, NameNotFound, NoRecords, StubResolver

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py
if TYPE_CHECKING:
    from collections.abc import Callable

    from .findings import LessonSource
    from .legacyprobe import LegacyAnswer
from .tls import MICROSOFT_TLS12_CIPHERS, Version, _set_versions, strict_client_context

C = FailureClass

DEFAULT_EHLO = "probe.smtp-harness.invalid"

# Every suite this OpenSSL still implements, at security level 0, so the
# relaxed attempts learn what an old server offers instead of refusing it.
ALL_CIPHERS = "ALL:@SECLEVEL=0"

# Suites that no current client offers: Camellia, SEED, IDEA, ARIA and no
# encryption at all. A host that accepts one is configured from an old list.
LEGACY_CIPHERS = "CAMELLIA:SEED:IDEA:ARIA:eNULL:@SECLEVEL=0"

# The versions tried one by one. SSLv3 is left out because OpenSSL 3 has it
# compiled out: a host that speaks nothing newer shows up as negotiating nothing.
PROBED_VERSIONS = (Version.TLS1_0, Version.TLS1_1, Version.TLS1_2, Version.TLS1_3)


class Mode(str, enum.Enum):
    """The way TLS starts: STARTTLS on 25 and 587 (RFC 3207), implicit TLS on 465 (RFC 8314)."""

    STARTTLS = "starttls"
    IMPLICIT = "implicit"

    def __str__(self) -> str:
        return self.value


class Verdict(str, enum.Enum):
    """The probe's result, which also sets its exit status."""

    COMPATIBLE = "compatible"  # Outlook.com with TLS enforced would deliver
    WOULD_BE_REFUSED = "would-be-refused"  # at least one error finding
    COULD_NOT_CONNECT = "could-not-connect"  # no SMTP session at all

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ProbeConfig:
    """The probe's target and settings. ``host`` is a name or an address; with ``domain`` the probe looks up its MX first.

    ``cafile`` None means the system trust store (what a real sender uses);
    ``resolver`` None means the system resolver. ``sni`` defaults to the MX
    or host name; ``timeout`` bounds each network wait.
    """

    host: str | None = None
    domain: str | None = None
    port: int = 25
    mode: Mode = Mode.STARTTLS
    cafile: str | None = None
    sni: str | None = None
    ehlo: str = DEFAULT_EHLO
    resolver: tuple[str, int] | None = None
    timeout: float = timeouts.PROBE_TIMEOUT
    # Address -> port, for addresses whose SMTP port is not ``port``: the
    # lab's hosts listen on ports the OS picks, one per MX (see Network.ports).
    ports: tuple[tuple[str, int], ...] = ()

    def port_of(self, address: str) -> int:
        return dict(self.ports).get(address, self.port)

    def __post_init__(self) -> None:
        if (self.host is None) == (self.domain is None):
            raise ConfigurationError("give either a TARGET host[:port] or --domain DOMAIN, not both or neither")
        if not 0 < self.port < 65536:
            raise ConfigurationError(f"invalid port {self.port}: expected 1 to 65535 (25, 587 or 465)")
        # Written so that NaN fails too: every comparison with NaN is false.
        if not 0 < self.timeout <= timeouts.PROBE_TIMEOUT_MAX:
            raise ConfigurationError(f"invalid timeout {self.timeout}: expected more than 0 and at most "
                                     f"{timeouts.PROBE_TIMEOUT_MAX:g} seconds")
        for field in ("host", "domain", "sni"):
            value = getattr(self, field)
            if value is not None and not value.isascii():
                object.__setattr__(self, field, _a_label(value, field))


def _a_label(name: str, field: str) -> str:
    """Return a name typed with non-ASCII labels (U-labels) in the ASCII form DNS, SNI and certificates carry.

    Python's IDNA codec (IDNA 2003, RFC 3490) is what ``ssl`` itself applies
    to a text server name, so the probe queries DNS, sends SNI and matches the
    leaf's subjectAltName with the same A-labels (xn--...).
    """
    option = {"host": "TARGET", "domain": "--domain", "sni": "--sni"}[field]
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ConfigurationError(f"{option} {name!r} is not a valid internationalized name ({error}); "
                                 "give it in its A-label form (xn--...)") from error


@dataclass(frozen=True)
class Attempt:
    """One connection: how far it went, what it negotiated, and the chain the server sent."""

    name: str
    failure: TLSFailure | None = None
    error: str = ""
    stage: str = "done"
    reply: Reply | None = None
    protocol: str | None = None
    cipher: str | None = None
    chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()
    extensions: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def label(self) -> str:
        if self.failure is None:
            return "ok"
        return f"{self.failure.failure_class}/{self.failure.reason}"

    def to_dict(self) -> dict[str, object]:
        failure = self.failure
        return {"name": self.name, "ok": self.ok, "result": self.label, "stage": self.stage, "error": self.error,
                "verify_code": failure.verify_code if failure else None, "alert": failure.alert if failure else None,
                "reply": str(self.reply) if self.reply else None, "protocol": self.protocol, "cipher": self.cipher}


@dataclass(frozen=True)
class ProbeReport:
    """Everything the probe learned, with its findings in severity order."""

    target: str
    mx_host: str
    address: str | None
    port: int
    mode: Mode
    sni: str | None
    strict: Attempt | None
    attempts: tuple[Attempt, ...]
    versions: tuple[tuple[str, bool], ...]
    leaf: LeafSummary | None
    findings: tuple[Finding, ...]
    duration_s: float
    plaintext_mail: Reply | None = None  # the reply to MAIL FROM before STARTTLS
    others: tuple["ProbeReport", ...] = ()  # the domain's other MX hosts and addresses

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        """The findings of this host and of every other MX host and address probed with it."""
        return self.findings + tuple(f for other in self.others for f in other.findings)

    @property
    def verdict(self) -> Verdict:
        """Return the worst verdict of all hosts probed: refused, then could not connect, then compatible."""
        verdicts = {self.own_verdict, *(other.verdict for other in self.others)}
        for verdict in (Verdict.WOULD_BE_REFUSED, Verdict.COULD_NOT_CONNECT):
            if verdict in verdicts:
                return verdict
        return Verdict.COMPATIBLE

    @property
    def own_verdict(self) -> Verdict:
        if self.strict is None or self.strict.stage in ("dns", "connect", "banner"):
            return Verdict.COULD_NOT_CONNECT
        if any(finding.severity is Severity.ERROR for finding in self.findings):
            return Verdict.WOULD_BE_REFUSED
        return Verdict.COMPATIBLE

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target, "mx_host": self.mx_host, "address": self.address, "port": self.port,
            "mode": str(self.mode), "sni": self.sni, "verdict": str(self.verdict),
            "strict": self.strict.to_dict() if self.strict else None,
            "versions": {version: accepted for version, accepted in self.versions},
            "leaf": self.leaf.to_dict() if self.leaf else None,
            "findings": [finding.to_dict() for finding in self.findings],
            "plaintext_mail_reply": str(self.plaintext_mail) if self.plaintext_mail else None,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
            "duration_ms": round(self.duration_s * 1000, 2),
            "others": [other.to_dict() for other in self.others],
        }


# Contexts: the strict one is the strict client's; the relaxed ones verify nothing.

def strict_context(cafile: str | None) -> ssl.SSLContext:
    """Build the strict client's context, trusting ``cafile`` or else the system store's CA file."""
    chosen = _trust_store(cafile)
    try:
        return strict_client_context(chosen)
    except (OSError, ssl.SSLError) as error:
        raise _unusable_store(chosen, error) from error


def relaxed_context(low: Version = Version.TLS1_0, high: Version = Version.TLS1_3,
                    ciphers: str = ALL_CIPHERS) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers(ciphers)
    _set_versions(context, low, high)
    return context


def trust_context(cafile: str | None) -> ssl.SSLContext:
    """Build a context that verifies the chain against the trust store, and nothing else.

    Every version and suite is allowed at security level 0, so the handshake
    reaches the certificate whatever the host speaks. OpenSSL's verify code
    is then about the path to a root alone, because the context checks no
    name and sets no key size or digest limit (the leaf checks report those).
    """
    context = relaxed_context()
    context.verify_mode = ssl.CERT_REQUIRED
    chosen = _trust_store(cafile)
    try:
        context.load_verify_locations(cafile=chosen)
    except (OSError, ssl.SSLError) as error:
        raise _unusable_store(chosen, error) from error
    return context


def _trust_store(cafile: str | None) -> str:
    chosen = cafile or ssl.get_default_verify_paths().cafile
    if not chosen:
        raise ConfigurationError("this system has no default CA file; give the trust store with --cafile FILE")
    return chosen


def _unusable_store(chosen: str, error: Exception) -> ConfigurationError:
    return ConfigurationError(f"cannot load the trust store {chosen}: {error}; give a PEM file with --cafile")


# One connection

class _Stop(Exception):
    def __init__(self, stage: str, failure: TLSFailure, error: str, reply: Reply | None = None) -> None:
        super().__init__(error)
        self.stage, self.failure, self.error, self.reply = stage, failure, error, reply


def attempt(config: ProbeConfig, address: str, context: ssl.SSLContext, sni: str | None, name: str) -> Attempt:
    """Open one SMTP session, start TLS with ``context`` and SNI ``sni``, and QUIT."""
    sock: socket.socket | None = None
    state: dict[str, object] = {}
    try:
        sock = _connect(address, config)
        sock = _start_tls(sock, config, context, sni, state)
    except _Stop as stop:
        return Attempt(name, stop.failure, stop.error, stop.stage, stop.reply,
                       extensions=frozenset(state.get("extensions", ())))  # type: ignore[arg-type]
    finally:
        if sock is not None:
            sock.close()
    return Attempt(name, None, "", "done", None, state.get("protocol"), state.get("cipher"),  # type: ignore[arg-type]
                   state["chain"], state["verified"], frozenset(state.get("extensions", ())))  # type: ignore[arg-type]


def _connect(address: str, config: ProbeConfig) -> socket.socket:
    """Open a TCP connection to ``address``, which is always an IP address by now.

    The socket is made for the address's family and connected directly:
    ``socket.create_connection`` would pass the address through
    ``getaddrinfo``, which imports Python's IDNA codec (about 2 ms of a cold
    probe) to encode a name there is none of.
    """
    port = config.port_of(address)
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(config.timeout)
    try:
        sock.connect((address, port))
    except OSError as error:
        sock.close()
        reason = "connection-refused" if isinstance(error, ConnectionRefusedError) else "connect-error"
        raise _Stop("connect", TLSFailure(C.CONNECTION_FAILURE, reason),
                    f"connect to {address}:{port} failed: {error}") from error
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _start_tls(sock: socket.socket, config: ProbeConfig, context: ssl.SSLContext, sni: str | None,
               state: dict[str, object]) -> socket.socket:
    if config.mode is Mode.IMPLICIT:
        tls = _handshake(sock, config, context, sni, state)
        wire = Wire(tls, config.timeout)
        _reply(wire, "banner", None, 220)
        state["extensions"] = _ehlo(wire, config)
        _quit(wire)
        return tls
    wire = Wire(sock, config.timeout)
    _reply(wire, "banner", None, 220)
    extensions = _ehlo(wire, config)
    state["extensions"] = extensions
    if "STARTTLS" not in extensions:
        raise _Stop("ehlo", TLSFailure(C.STARTTLS_NOT_SUPPORTED, "not-advertised"),
                    "STARTTLS is not in the EHLO reply")
    reply = _reply(wire, "starttls", "STARTTLS")
    if reply.code != 220:
        raise _Stop("starttls", TLSFailure(C.STARTTLS_NOT_SUPPORTED, "refused"), f"STARTTLS reply: {reply}", reply)
    if wire.buffer:
        # Plaintext after "220 ready" could have been injected by an attacker
        # (CVE-2011-0411 and kin), so the strict client discards the session.
        raise _Stop("starttls", TLSFailure(C.VALIDATION_FAILURE, "starttls-injection"),
                    f"{len(wire.buffer)} bytes of plaintext followed the 220 reply to STARTTLS before the handshake",
                    reply)
    tls = _handshake(sock, config, context, sni, state)
    wire.sock = tls
    _quit(wire)
    return tls


def ready_for_tls(config: ProbeConfig, address: str) -> socket.socket:
    """Return a socket on which the client's handshake comes next: after STARTTLS, or at once (implicit)."""
    sock = _connect(address, config)
    if config.mode is Mode.IMPLICIT:
        return sock
    try:
        wire = Wire(sock, config.timeout)
        _reply(wire, "banner", None, 220)
        _ehlo(wire, config)
        _reply(wire, "starttls", "STARTTLS", 220)
    except _Stop:
        sock.close()
        raise
    return sock


def _handshake(sock: socket.socket, config: ProbeConfig, context: ssl.SSLContext, sni: str | None,
               state: dict[str, object]) -> ssl.SSLSocket:
    sock.settimeout(config.timeout)
    tls = None
    try:
        # wrap_socket detaches ``sock``: from here on only ``tls`` owns the descriptor.
        tls = context.wrap_socket(sock, server_hostname=_ascii_or_text(sni), do_handshake_on_connect=False)
        tls.do_handshake()
    except (ssl.SSLError, OSError) as error:
        if tls is not None:
            tls.close()
        raise _Stop("handshake", classify_tls_error(error), str(error) or repr(error)) from error
    state["protocol"] = tls.version()
    state["cipher"] = (tls.cipher() or ("?",))[0]
    # NOTE: private in Python 3.11 and 3.12, public as SSLSocket.get_*_chain() from 3.13.
    state["chain"] = tuple(c.public_bytes(2) for c in tls._sslobj.get_unverified_chain() or ())  # type: ignore
    state["verified"] = tuple(c.public_bytes(2) for c in tls._sslobj.get_verified_chain() or ())  # type: ignore
    return tls


# One session waits at most this many times for the network (connect,
# greeting, EHLO, STARTTLS, handshake, QUIT). Each wait is bounded by the
# probe's timeout, so a round of sessions run at once ends within this many timeouts.
SESSION_WAITS = 6


# The reverse look-up waits once for the PTR and once per PTR name it
# confirms, so it confirms at most this many names to stay within the
# round's bound of SESSION_WAITS timeouts.
MAX_PTR_NAMES = SESSION_WAITS - 1


def run_concurrently(tasks: dict[str, Callable[[], object]], limit: float) -> dict[str, object]:
    """Run each task in a thread of its own and return the results by name, in the order given.

    An exception raised by a task is raised here. A task still running after
    ``limit`` seconds is an error: every network wait inside it has its own
    timeout, so that means a wait without one.
    """
    results: dict[str, object] = {}
    errors: dict[str, BaseException] = {}

    def run(name: str, task: Callable[[], object]) -> None:
        try:
            results[name] = task()
        except BaseException as error:  # re-raised in the caller's thread below
            errors[name] = error

    threads = [threading.Thread(target=run, args=item, name=f"probe {item[0]}", daemon=True) for item in tasks.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + limit
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = [thread.name for thread in threads if thread.is_alive()]
    if late:
        raise HarnessError(f"{', '.join(late)} did not finish within {limit:g} s (the probe's timeout "
                           f"times {SESSION_WAITS} waits)")
    for name in tasks:
        if name in errors:
            raise errors[name]
    return {name: results[name] for name in tasks}


def _ascii_or_text(name: str | None) -> bytes | str | None:
    """Return an ASCII server name as bytes, which ``ssl`` hands to OpenSSL as it is.

    Given text, ``ssl`` encodes the name with Python's IDNA codec, whose
    import costs a cold probe about 2 ms. For an ASCII name (an A-label, as
    in every MX record) the result would be the same bytes. A name with
    other characters stays text, so that the codec converts it.
    """
    if name is not None and name.isascii():
        return name.encode("ascii")
    return name


def _reply(wire: Wire, stage: str, line: str | None, *codes: int) -> Reply:
    try:
        reply = wire.read_reply(f"the {stage} reply") if line is None else wire.command(line)
    except SMTPTimeout as error:
        raise _Stop(stage, TLSFailure(C.PROTOCOL_ERROR, "reply-timeout"), str(error)) from error
    except SMTPProtocolError as error:
        raise _Stop(stage, TLSFailure(C.PROTOCOL_ERROR, error.reason), str(error)) from error
    except (SMTPDisconnected, OSError) as error:
        raise _Stop(stage, TLSFailure(C.PROTOCOL_ERROR, "connection-lost"), str(error) or repr(error)) from error
    if codes and reply.code not in codes:
        raise _Stop(stage, TLSFailure(C.SMTP_REJECTED, f"reply-{reply.code}"), f"{stage}: {reply}", reply)
    return reply


def _ehlo(wire: Wire, config: ProbeConfig) -> frozenset[str]:
    reply = _reply(wire, "ehlo", f"EHLO {config.ehlo}", 250)
    return frozenset(line.split()[0].upper() for line in reply.lines[1:] if line.strip())


def _quit(wire: Wire) -> None:
    try:
        wire.command("QUIT")
    except (SMTPTimeout, SMTPProtocolError, SMTPDisconnected, OSError):
        pass  # the probe is done with this session; a rude close changes nothing


# DNS

def make_resolver(config: ProbeConfig) -> StubResolver:
    """Return the stub resolver to ask: the server given with --resolver, else the system's first nameserver."""
    if config.resolver is None:
        return StubResolver.from_system(timeout=config.timeout)
    return StubResolver(config.resolver, timeout=config.timeout)


# A sender tries every MX in preference order, so the probe judges each
# (MX host, address) pair. This bounds the work for a domain with many.
MAX_TARGETS = 10


def resolve_targets(config: ProbeConfig, resolver: StubResolver) -> list[tuple[str, str | DnsLookupError]]:
    """Return (host name, address) pairs to probe: each MX of ``domain`` in preference order, or ``host``.

    A host with no A record is looked up again for AAAA records: an
    IPv6-only MX host still takes mail from senders that have IPv6. A host
    whose look-up fails is returned with the error in place of the address,
    unless it is the only host, whose error is raised.
    """
    if config.domain is not None:
        hosts = _mail_hosts(config.domain, resolver)
    else:
        assert config.host is not None
        hosts = [config.host]
    pairs: list[tuple[str, str | DnsLookupError]] = []
    for host in hosts:
        if is_address(host):
            pairs.append((host, host))
            continue
        try:
            pairs.extend((host, address) for address in _addresses(host, resolver))
        except (DnsLookupError, ConfigurationError) as error:
            if isinstance(error, ConfigurationError):
                if config.domain is None:
                    raise  # the TARGET as the user typed it
                error = _unaskable_mx(host, error, resolver)
            if len(hosts) == 1:
                raise error
            pairs.append((host, error))
    return pairs[:MAX_TARGETS]


def _addresses(host: str, resolver: StubResolver) -> list[str]:
    """Return the host's IPv4 addresses, or its IPv6 addresses when it has no A record."""
    try:
        return resolver.addresses(host, "A")
    except NoRecords:
        return resolver.addresses(host, "AAAA")


def _unaskable_mx(host: str, error: ConfigurationError, resolver: StubResolver) -> DnsLookupError:
    """Turn the resolver's refusal of a name read from an MX record into that host's failed look-up.

    The stub resolver shows a label octet outside printable ASCII (a space,
    raw UTF-8) escaped, as ``\\032``, and takes no escapes in a question, so
    such an MX host cannot be looked up. That is the domain's problem, not a
    bad argument.
    """
    return DnsLookupError(f"the MX host {host} cannot be looked up: {error}", host, "A", resolver.server)


def _mail_hosts(domain: str, resolver: StubResolver) -> list[str]:
    """Return the domain's MX hosts in preference order, or the domain itself when it has no MX."""
    try:
        records = sorted(resolver.mx(domain))
    except NoRecords:
        return [domain]  # RFC 5321 section 5.1: no MX, the domain itself is the mail host
    hosts = [exchange for _, exchange in records if exchange]
    if not hosts:
        # RFC 7505: a null MX (exchange ".") declares that the domain accepts no mail at all.
        raise NoRecords(f"{domain} publishes a null MX (RFC 7505): it accepts no mail", domain, "MX",
                        resolver.server)
    return hosts


# The probe

def probe(config: ProbeConfig, catalog: LessonSource) -> ProbeReport:
    """Probe the host ``config`` points at and return every finding, each with its lesson."""
    started = time.perf_counter()
    resolver = make_resolver(config)
    target = config.domain or config.host or ""
    try:
        pairs = resolve_targets(config, resolver)
    except DnsLookupError as error:
        return _lookup_failed(config, catalog, target, target, error, started)
    reports = []
    for host, address in pairs:
        if isinstance(address, DnsLookupError):
            reports.append(_lookup_failed(config, catalog, target, host, address, time.perf_counter()))
        else:
            reports.append(_Probe(config, catalog, resolver, target, host, address, time.perf_counter()).run())
    reports = _name_split_mx(reports, catalog)
    return dataclasses.replace(reports[0], others=tuple(reports[1:]), duration_s=time.perf_counter() - started)


def _name_split_mx(reports: list[ProbeReport], catalog: LessonSource) -> list[ProbeReport]:
    """Point a name mismatch that only some MX hosts have at the lesson on mixed MX hosts.

    Such a domain fails only the sessions that land on the wrong host, which
    is its own lesson, not the single-host one.
    """
    mismatch = "certificate-host-mismatch/hostname-mismatch"
    hosts_with = {r.mx_host for r in reports if any(f.label == mismatch for f in r.findings)}
    if not hosts_with or hosts_with == {r.mx_host for r in reports}:
        return reports
    changed = []
    for report in reports:
        findings = [dataclasses.replace(f, hints=("second-mx-wrong-cert",) + f.hints) if f.label == mismatch else f
                    for f in report.findings]
        changed.append(dataclasses.replace(report, findings=tuple(with_lessons(findings, catalog))))
    return changed


def _lookup_failed(config: ProbeConfig, catalog: LessonSource, target: str, host: str,
                   error: DnsLookupError, started: float) -> ProbeReport:
    finding = Finding("dns", C.DNS_FAILURE, "lookup-failed", Severity.ERROR, f"The look-up of {host} failed.",
                      (f"{type(error).__name__}: {error}",), host=host)
    return ProbeReport(target, host, None, config.port, config.mode, config.sni, None, (), (), None,
                       tuple(with_lessons([finding], catalog)), time.perf_counter() - started)


class _Probe:
    """The steps of one probe, sharing what earlier steps learned."""

    def __init__(self, config: ProbeConfig, catalog: LessonSource, resolver: StubResolver, target: str,
                 mx_host: str, address: str, started: float) -> None:
        self.config, self.catalog, self.resolver = config, catalog, resolver
        self.target, self.mx_host, self.address, self.started = target, mx_host, address, started
        self.sni = config.sni or (None if is_address(mx_host) else mx_host)
        self.name = config.sni or mx_host
        self.attempts: list[Attempt] = []
        self.findings: list[Finding] = []
        self.versions: list[tuple[str, bool]] = []
        self.plaintext: Reply | None = None

    def run(self) -> ProbeReport:
        # With an address as the target and no --sni, the strict check matches the
        # address against the leaf (Python sends no SNI for an address).
        results = self._first_round()
        strict = results["strict"]
        assert isinstance(strict, Attempt)
        self.attempts.append(strict)
        leaf = None
        if strict.stage in ("connect", "banner"):
            self._no_session(strict)
        else:
            leaf = self._examine(strict, results)
            self._strict_failure(strict)
            self._reverse_dns(results["reverse dns"])  # type: ignore[arg-type]
        where = f"{self.mx_host} [{self.address}]:{self.config.port_of(self.address)}"
        findings = [dataclasses.replace(f, host=where) for f in ordered(deduplicate(self.findings))]
        return ProbeReport(self.target, self.mx_host, self.address, self.config.port_of(self.address),
                           self.config.mode, self.sni,
                           strict, tuple(self.attempts), tuple(self.versions), leaf,
                           tuple(with_lessons(findings, self.catalog)), time.perf_counter() - self.started,
                           self.plaintext)

    def _first_round(self) -> dict[str, object]:
        """Run the strict attempt, the relaxed sessions and the reverse look-up at once.

        Each is a separate SMTP session (or DNS query), so the host serves them
        in parallel, as it serves several senders. One after the other they
        would take several times as long. The relaxed sessions do not need the
        strict result: when it shows that TLS cannot start at all, ``_examine``
        drops them unread, and they failed at the same step anyway.
        """
        # Built here, so that an unusable trust store stops the probe before any
        # connection; it also pays OpenSSL's one-time initialization.
        strict = strict_context(self.config.cafile)
        tasks: dict[str, Callable[[], object]] = {
            "strict": self._session(lambda: strict, self.name, "strict"),
        }
        if self.config.mode is Mode.STARTTLS:
            tasks["plaintext"] = self._mail_before_starttls
        for version in PROBED_VERSIONS:
            tasks[f"version {version.value}"] = self._session(functools.partial(relaxed_context, version, version),
                                                              self.sni, f"version {version.value}")
        tasks["chain trust"] = self._session(lambda: trust_context(self.config.cafile), self.sni, "chain trust")
        if self.sni is not None:
            tasks["without SNI"] = self._session(relaxed_context, None, "without SNI")
        tasks["reverse dns"] = self._look_up_reverse
        results = run_concurrently(tasks, SESSION_WAITS * self.config.timeout)
        return self._again_one_at_a_time(tasks, results)

    def _again_one_at_a_time(self, tasks: dict[str, Callable[[], object]],
                             results: dict[str, object]) -> dict[str, object]:
        """Run again, one after another, the sessions the host turned away while the others ran.

        Many MTAs cap the sessions one client keeps open at once (Exim's
        smtp_accept_max_per_host, Exchange's MaxInboundConnectionPerSource,
        Postfix's smtpd_client_connection_count_limit) and greet the extra ones
        with 421 or drop them. The probe's own sessions would then fail at the
        greeting and read as a host that speaks no TLS at all. A host that
        greets none of them gets no second round, because that refusal is the result.
        """
        sessions = {name: result for name, result in results.items() if isinstance(result, Attempt)}
        turned_away = [name for name, result in sessions.items() if result.stage in ("connect", "banner")]
        if not turned_away or len(turned_away) == len(sessions):
            return results
        again = dict(results)
        for name in tasks:
            # The MAIL FROM session returns None when it ends before its MAIL reply.
            if name in turned_away or (name == "plaintext" and results[name] is None):
                again[name] = tasks[name]()
        return again

    def _session(self, context: Callable[[], ssl.SSLContext], sni: str | None, name: str) -> Callable[[], Attempt]:
        """Return a task that builds its TLS context and runs one session with it.

        The task builds the context in its own thread, where OpenSSL's work
        overlaps the other sessions' network waits.
        """
        return lambda: attempt(self.config, self.address, context(), sni, name)

    def _attempt(self, context: ssl.SSLContext, sni: str | None, name: str) -> Attempt:
        result = attempt(self.config, self.address, context, sni, name)
        self.attempts.append(result)
        return result

    def _add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def _examine(self, strict: Attempt, results: dict[str, object]) -> LeafSummary | None:
        starttls = self.config.mode is Mode.STARTTLS
        if starttls and not self._starttls(strict):
            return None
        if starttls:
            self._plaintext_policy(results["plaintext"])  # type: ignore[arg-type]
        if strict.stage not in ("handshake", "done"):
            return None  # the SMTP dialogue failed before TLS: relaxed TLS settings cannot help
        self.attempts.extend(result for name, result in results.items()
                             if isinstance(result, Attempt) and name != "strict")
        best = self._versions(results)
        if best is None:
            return None
        self._suites(best)
        return self._chain(best, results)

    # STARTTLS

    def _starttls(self, strict: Attempt) -> bool:
        """Report a missing, refused or hanging STARTTLS; return True when TLS can start at all."""
        failure = strict.failure
        if failure is None or strict.stage not in ("ehlo", "starttls") and \
                failure.failure_class is not C.STARTTLS_NOT_SUPPORTED:
            return True
        summaries = {
            "not-advertised": ("STARTTLS is not advertised: a sender that requires TLS has nothing to start.",
                               ("starttls-not-advertised",)),
            "refused": ("STARTTLS is advertised but refused.", ("starttls-refused",)),
            "handshake-timeout": ("The server says 220 to STARTTLS, then never completes the handshake.",
                                  ("starttls-hangs",)),
            "starttls-injection": ("Plaintext follows the 220 reply to STARTTLS: a strict sender drops the "
                                   "session, because an attacker could have injected it.", ("starttls-injection",)),
        }
        summary, hints = summaries.get(failure.reason, (f"The SMTP dialogue fails before TLS: {strict.error}", ()))
        evidence = [strict.error] + ([f"EHLO offers: {' '.join(sorted(strict.extensions))}"]
                                     if failure.reason == "not-advertised" else [])
        self._add(Finding("starttls", failure.failure_class, failure.reason, Severity.ERROR, summary,
                          tuple(evidence), reply_code=strict.reply.code if strict.reply else None, hints=hints))
        return False

    def _mail_before_starttls(self) -> Reply | None:
        """Send MAIL FROM in plaintext, then RSET, and return the reply to MAIL (None when the session fails)."""
        sock = None
        try:
            sock = _connect(self.address, self.config)
            wire = Wire(sock, self.config.timeout)
            _reply(wire, "banner", None, 220)
            _ehlo(wire, self.config)
            reply = _reply(wire, "mail", "MAIL FROM:<>")
            _reply(wire, "rset", "RSET")
            _quit(wire)
        except _Stop:
            return None
        finally:
            if sock is not None:
                sock.close()
        return reply

    def _plaintext_policy(self, reply: Reply | None) -> None:
        """Report a host that takes no mail without TLS; refusing it is a warning."""
        self.plaintext = reply
        if reply is not None and reply.code == 530:
            self._add(Finding("starttls-required", C.SMTP_REJECTED, "reply-530", Severity.WARNING,
                              "The host requires STARTTLS before MAIL; RFC 3207 section 4 says a publicly "
                              "referenced MX must not, because senders without TLS can no longer deliver.",
                              (f"MAIL FROM:<> in plaintext answered {reply}",), reply_code=530))

    # Protocol versions and suites

    def _versions(self, results: dict[str, object]) -> Version | None:
        """Judge each version tried alone; report a host without TLS 1.2 or 1.3; return the best version spoken."""
        accepted: dict[Version, Attempt] = {}
        for version in PROBED_VERSIONS:
            result = results[f"version {version.value}"]
            assert isinstance(result, Attempt)
            self.versions.append((version.value, result.ok))
            if result.ok:
                accepted[version] = result
        if not accepted:
            self._nothing_negotiates()
            return None
        best = max(accepted, key=list(Version).index)
        legacy = [v.value for v in accepted if v in (Version.TLS1_0, Version.TLS1_1)]
        if best in (Version.TLS1_0, Version.TLS1_1):
            refused = [a for a in self.attempts if a.name == f"version {Version.TLS1_2.value}"]
            hints = ("tls11-only",) if best is Version.TLS1_1 else ("tls10-only",)
            self._add(Finding("protocol-versions", C.VALIDATION_FAILURE, "protocol-version", Severity.ERROR,
                              f"The host speaks {best.value} at most; Outlook.com requires TLS 1.2 or 1.3.",
                              (f"accepted alone: {', '.join(v.value for v in accepted)}",
                               f"TLSv1.2 alone: {refused[0].error if refused else 'not tried'}"),
                              alert="protocol_version", hints=hints))
        elif legacy:
            self._add(Finding("protocol-versions", C.VALIDATION_FAILURE, "legacy-versions-enabled", Severity.INFO,
                              f"The host also accepts {', '.join(legacy)}; strict senders never use them.",
                              (f"accepted alone: {', '.join(v.value for v in accepted)}",)))
        return best

    def _nothing_negotiates(self) -> None:
        tried = [a for a in self.attempts if a.name.startswith("version ")]
        errors = [f"{a.name}: {a.error}" for a in tried]
        if all(a.failure is not None and a.failure.reason == "not-tls" for a in tried):
            # No version was really tried: every handshake met plaintext.
            self.versions.clear()
            self._add(Finding("protocol-versions", C.VALIDATION_FAILURE, "not-tls", Severity.ERROR,
                              "The host answers the handshake with plaintext: the port speaks STARTTLS, not "
                              "implicit TLS (probe it with --mode starttls).", tuple(errors[:1]),
                              hints=("implicit-tls-on-submission-port",)))
            return
        from .legacyprobe import ask_all  # tlslite-ng's handshakes, needed only for a host OpenSSL cannot reach

        answers = ask_all(lambda: ready_for_tls(self.config, self.address), self.sni)
        evidence = tuple(errors) + tuple(f"tlslite-ng, {a.question}: {'accepted, ' if a.ok else ''}{a.detail}"
                                         for a in answers.values())
        self._add(self._legacy_finding(answers, tried, evidence))

    def _legacy_finding(self, answers: dict[str, LegacyAnswer], tried: list[Attempt],
                        evidence: tuple[str, ...]) -> Finding:
        """Name what the host speaks instead: SSLv3 only, RC4 or 3DES only, or nothing known."""
        if answers["rc4"].ok or answers["3des"].ok:
            offered = [name.upper() for name in ("rc4", "3des") if answers[name].ok]
            hints = tuple(f"{name}-only" for name in ("rc4", "3des") if answers[name].ok)
            return Finding("cipher-suites", C.VALIDATION_FAILURE, "no-shared-cipher", Severity.ERROR,
                           f"The host offers only {' and '.join(offered)} suites, which Microsoft and "
                           "OpenSSL 3 no longer accept.", evidence, alert="handshake_failure",
                           hints=hints + ("tls12-weak-ciphers-only",))
        if answers["sslv3"].ok:
            return Finding("protocol-versions", C.VALIDATION_FAILURE, "protocol-version", Severity.ERROR,
                           "The host speaks only SSLv3; Outlook.com requires TLS 1.2 or 1.3.", evidence,
                           alert="protocol_version", hints=("sslv3-only",))
        reasons = {a.failure.reason for a in tried if a.failure is not None and a.name != "version TLSv1.3"}
        reason = "protocol-version" if reasons == {"protocol-version"} else "no-shared-cipher"
        return Finding("protocol-versions", C.VALIDATION_FAILURE, reason, Severity.ERROR,
                       "No version from SSLv3 to TLS 1.3 completes a handshake with any suite OpenSSL or "
                       "tlslite-ng knows.", evidence)

    def _suites(self, best: Version) -> None:
        """With TLS 1.2 as the best version, check that one of Microsoft's suites is offered."""
        if best is not Version.TLS1_2:
            return
        microsoft = self._attempt(relaxed_context(Version.TLS1_2, Version.TLS1_2, MICROSOFT_TLS12_CIPHERS),
                                  self.sni, "Microsoft TLS 1.2 suites")
        if microsoft.ok:
            return
        offered = next((a for a in self.attempts if a.name == f"version {Version.TLS1_2.value}"), None)
        cipher = (offered.cipher if offered else None) or "?"
        assert microsoft.failure is not None
        hints = self._suite_hints(microsoft.failure.reason, cipher)
        self._add(Finding("cipher-suites", microsoft.failure.failure_class, microsoft.failure.reason, Severity.ERROR,
                          "None of Microsoft's TLS 1.2 suites is offered; the host speaks no TLS 1.3.",
                          (f"with Microsoft's suites: {microsoft.error}",
                           f"with every suite (security level 0) the host chose {cipher}"),
                          alert=microsoft.failure.alert, hints=hints))

    def _suite_hints(self, reason: str, cipher: str) -> tuple[str, ...]:
        """Tell the suite lessons apart: a weak DH group, legacy ciphers, or static RSA with AES only."""
        if reason == "weak-dh" or cipher.startswith("DHE-"):
            return ("dh1024", "tls12-weak-ciphers-only")
        legacy = self._attempt(relaxed_context(Version.TLS1_2, Version.TLS1_2, LEGACY_CIPHERS), self.sni,
                               "legacy TLS 1.2 suites")
        static_rsa = not cipher.startswith(("ECDHE-", "DHE-"))  # OpenSSL names static-RSA suites without a prefix
        if static_rsa and not legacy.ok:
            return ("static-rsa-only", "tls12-weak-ciphers-only")
        return ("tls12-weak-ciphers-only", "static-rsa-only")

    # Chain

    def _chain(self, best: Version, results: dict[str, object]) -> LeafSummary | None:
        with_sni = results[f"version {best.value}"]
        trust = results["chain trust"]
        assert isinstance(with_sni, Attempt) and isinstance(trust, Attempt)
        if not with_sni.chain:
            return None
        chain = self._read_chain(with_sni.chain)
        if chain is None:
            return None
        leaf = chain[0]
        self.findings.extend(check_leaf(leaf, self.name))
        self._judge_trust(trust, chain)
        issuer = find_issuer(chain, list(trust.verified_chain))
        self.findings.extend(check_revocation(leaf, issuer))
        without_sni = results.get("without SNI")
        if isinstance(without_sni, Attempt):
            self._without_sni(without_sni, leaf)
        return summarize(leaf)

    def _read_chain(self, ders: tuple[bytes, ...]) -> list[CertificateFacts] | None:
        """Read each certificate the host sent; report one that this reader cannot parse."""
        try:
            return [parse_certificate(der) for der in ders]
        except CertificateParseError as error:
            self._add(Finding("leaf-parse", C.VALIDATION_FAILURE, "unreadable-certificate", Severity.WARNING,
                              "The probe cannot read a certificate the host sends, so it checks no leaf "
                              "property; the strict attempt above still shows OpenSSL's verdict.", (str(error),)))
            return None

    def _judge_trust(self, trust: Attempt, chain: list[CertificateFacts]) -> None:
        """Report OpenSSL's verdict on the path from the leaf to a trusted root."""
        failure = trust.failure
        if failure is None:
            return
        if failure.verify_code is not None:
            finding = trust_finding(failure.verify_code, failure.verify_message or "", chain)
            if finding is not None:
                self._add(finding)
            return
        self._add(Finding("chain-trust", failure.failure_class, failure.reason, Severity.WARNING,
                          "The handshake that verifies the chain failed before OpenSSL judged it, so trust is "
                          "not known.", (f"{trust.name}: {trust.error}",), alert=failure.alert))

    def _without_sni(self, plain: Attempt, leaf: CertificateFacts) -> None:
        if not plain.ok or not plain.chain or plain.chain[0] == leaf.der:
            return
        try:
            other = parse_certificate(plain.chain[0])
        except CertificateParseError:
            return  # an unreadable default certificate is still another certificate; nothing to compare
        covers = any(name_matches(pattern, self.name) for pattern in san_names(other))
        self._add(Finding("sni", C.CERTIFICATE_HOST_MISMATCH, "certificate-depends-on-sni", Severity.INFO,
                          "The host picks its certificate by SNI; senders without SNI get another one"
                          + ("." if covers else f" that does not cover {self.name}."),
                          (f"with SNI {self.sni}: {leaf.subject}", f"without SNI: {other.subject}")))

    # No SMTP session at all

    def _no_session(self, strict: Attempt) -> None:
        """Report why no SMTP session started: the address refuses, or it sends no greeting."""
        assert strict.failure is not None
        failure = strict.failure
        summary, hints = f"No SMTP session with {self.address}:{self.config.port_of(self.address)}.", ()
        if strict.stage == "banner" and failure.reason == "reply-timeout" and self.config.mode is Mode.STARTTLS:
            summary = (f"No SMTP greeting within {self.config.timeout:g} s. A port that expects implicit TLS "
                       "(465) waits in silence for the client's handshake: if this is such a port, probe it "
                       "with --mode implicit.")
            hints = ("plaintext-on-implicit-tls-port",)
        self._add(Finding("connect", failure.failure_class, failure.reason, Severity.ERROR, summary,
                          (strict.error,), hints=hints))

    # The strict attempt's own failure, when no relaxed step explained it

    def _strict_failure(self, strict: Attempt) -> None:
        failure = strict.failure
        if failure is None:
            return
        label = f"{failure.failure_class}/{failure.reason}"
        for finding in self.findings:
            if finding.label == label:
                if strict.error and strict.error not in finding.evidence:
                    self.findings[self.findings.index(finding)] = _with_evidence(finding, f"strict: {strict.error}")
                return
        self._add(Finding("strict", failure.failure_class, failure.reason, Severity.ERROR,
                          f"The strict attempt fails at the {strict.stage} step.", (strict.error,),
                          verify_code=failure.verify_code, alert=failure.alert))

    # Reverse DNS

    def _look_up_reverse(self) -> tuple[list[str], bool | DnsLookupError] | DnsLookupError:
        """Return the address's PTR names and whether one points back, or the error that left it unknown.

        A forward look-up that fails for another reason than a missing name
        or record (a timeout, a server failure) leaves the confirmation
        unknown, and its error takes the place of False.
        """
        try:
            names = [name or "." for name in self.resolver.ptr(self.address)]
        except DnsLookupError as error:
            return error
        family = "AAAA" if ":" in self.address else "A"
        address = ipaddress.ip_address(self.address)
        unknown: DnsLookupError | None = None
        for name in names[:MAX_PTR_NAMES]:
            try:
                if address in map(ipaddress.ip_address, self.resolver.addresses(name, family)):
                    return names, True
            except (NameNotFound, NoRecords):
                continue
            except DnsLookupError as error:
                unknown = error
            except ConfigurationError:
                continue  # the root name, or a label with an octet the resolver shows escaped: nothing to ask
        return names, unknown or False

    def _reverse_dns(self, found: tuple[list[str], bool | DnsLookupError] | DnsLookupError) -> None:
        """Report an address without a PTR, or whose PTR is not forward-confirmed (FCrDNS).

        Exchange Online's 5.7.25 (IPv6 senders without reverse DNS) is listed in Microsoft
        Learn, "Non-delivery reports in Exchange Online". A look-up that fails
        (a timeout, a server failure) proves neither, so it is reported as such.
        """
        if isinstance(found, DnsLookupError) and not isinstance(found, (NameNotFound, NoRecords)):
            self._reverse_unknown(found)
            return
        if isinstance(found, DnsLookupError):
            self._add(Finding("reverse-dns", C.DNS_FAILURE, "no-ptr", Severity.WARNING,
                              f"The address {self.address} has no PTR record. Receivers reject mail sent from "
                              "such addresses: Gmail, and Exchange Online for IPv6 senders (5.7.25). "
                              "This matters when the MX also sends mail.",
                              (f"PTR look-up: {type(found).__name__}: {found}",), hints=("no-ptr", "missing-ptr")))
            return
        names, confirmed = found
        if confirmed is True:
            return
        if isinstance(confirmed, DnsLookupError):
            self._reverse_unknown(confirmed)
            return
        self._add(Finding("reverse-dns", C.DNS_FAILURE, "ptr-mismatch", Severity.WARNING,
                          f"The PTR of {self.address} is not forward-confirmed: no A record of "
                          f"{', '.join(names)} points back to it.", (f"PTR {', '.join(names)}",),
                          hints=("ptr-mismatch", "fcrdns-mismatch")))

    def _reverse_unknown(self, error: DnsLookupError) -> None:
        self._add(Finding("reverse-dns", C.DNS_FAILURE, "lookup-failed", Severity.INFO,
                          f"Reverse DNS of {self.address} is not known: a look-up failed.",
                          (f"{error.rtype} look-up of {error.name}: {type(error).__name__}: {error}",)))


def _with_evidence(finding: Finding, line: str) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, evidence=finding.evidence + (line,))


# The readable report

EXIT_CODES = {Verdict.COMPATIBLE: 0, Verdict.WOULD_BE_REFUSED: 1, Verdict.COULD_NOT_CONNECT: 3}

VERDICT_TEXT = {
    Verdict.COMPATIBLE: "Outlook.com-compatible: a strict sender would deliver",
    Verdict.WOULD_BE_REFUSED: "would be refused by a strict sender such as Outlook.com with TLS enforced",
    Verdict.COULD_NOT_CONNECT: "could not connect: no SMTP session to judge",
}


def render_text(report: ProbeReport, sessions: bool = False) -> str:
    """Format ``report`` for people: each host, what it offers, each finding with its lesson, the verdict.

    With ``sessions``, each host's part also lists every session the probe
    made, with its result.
    """
    lines: list[str] = []
    for one in (report, *report.others):
        lines.extend(_render_host(one, sessions))
        lines.append("")
    lines.append(f"verdict: {_verdict_text(report)} (exit {EXIT_CODES[report.verdict]}, "
                 f"{report.duration_s:.2f} s)")
    return "\n".join(lines)


def _verdict_text(report: ProbeReport) -> str:
    judged = [one for one in (report, *report.others) if one.own_verdict is not Verdict.COULD_NOT_CONNECT]
    if report.verdict is Verdict.COULD_NOT_CONNECT and judged:
        # The worst result counts, but the hosts that gave a session were judged above.
        return "could not connect to every MX host and address; the others are judged above"
    return VERDICT_TEXT[report.verdict]


def _render_host(report: ProbeReport, sessions: bool = False) -> list[str]:
    lines = [f"probe {report.target}: {report.mx_host} [{report.address or '-'}]:{report.port} "
             f"({report.mode}, SNI {report.sni or 'none'})"]
    if report.strict is not None:
        strict = report.strict
        shown = "TLS established, " + f"{strict.protocol} {strict.cipher}" if strict.ok else strict.label
        if strict.ok and any(finding.severity is Severity.ERROR for finding in report.findings):
            # The handshake verified, but a check made after it (revocation,
            # or a relaxed re-probe) found what a strict sender refuses.
            shown += "; the errors below still make a strict sender refuse"
        lines.append(f"strict attempt (Exchange Online with TLS enforced): {shown}")
        if strict.error:
            lines.append(f"  {strict.error}")
    if report.plaintext_mail is not None:
        lines.append(f"STARTTLS advertised; MAIL FROM before STARTTLS answered {report.plaintext_mail}")
    if report.versions:
        lines.append("versions: " + ", ".join(f"{v} {'yes' if ok else 'no'}" for v, ok in report.versions))
    if report.leaf is not None:
        leaf = report.leaf
        lines.append(f"leaf: {leaf.subject}, issuer {leaf.issuer}")
        lines.append(f"  names {', '.join(leaf.names) or '(no subjectAltName)'}; valid {leaf.not_before[:10]} "
                     f"to {leaf.not_after[:10]}; {leaf.key}; signed with {leaf.signature}")
    if sessions:
        lines.extend(_render_sessions(report.attempts))
    lines.append("")
    lines.extend(_render_findings(report.findings))
    return lines


def _render_sessions(attempts: tuple[Attempt, ...]) -> list[str]:
    lines = [f"sessions ({len(attempts)}):"]
    for one in attempts:
        negotiated = f" {one.protocol} {one.cipher}" if one.ok else f" at the {one.stage} step: {one.error}"
        lines.append(f"  {one.name:<26} {one.label}{negotiated}")
    return lines


def _render_findings(findings: tuple[Finding, ...]) -> list[str]:
    if not findings:
        return ["findings: none"]
    lines = [f"findings ({len(findings)}):"]
    for finding in findings:
        codes = [f"verify {finding.verify_code}" if finding.verify_code is not None else "",
                 f"alert {finding.alert}" if finding.alert else "",
                 f"reply {finding.reply_code}" if finding.reply_code else ""]
        extra = "; ".join(code for code in codes if code)
        lines.append(f"  {finding.severity.value.upper():<7} {finding.label}" + (f" ({extra})" if extra else ""))
        lines.append(f"          {finding.summary}")
        for evidence in finding.evidence:
            lines.append(f"          evidence: {evidence}")
        if finding.lesson:
            lines.append(f"          looks like {finding.lesson}: run `smtp-harness explain {finding.lesson}`")
    return lines
