"""The sending MTA: a strict, Exchange-Online-like client and an opportunistic one.

The strict profile behaves like Exchange Online sending with TLS enforced
(a forced-TLS connector, or a domain with MTA-STS in enforce mode): it looks
up the recipient domain's MX in DNS, connects, reads the banner, says EHLO,
requires STARTTLS, handshakes with SNI set to the MX host name, accepts only
TLS 1.2 and 1.3 with Microsoft's suites, verifies the chain against the
simulated public roots only, matches the name against subjectAltName only,
checks revocation, and only then sends MAIL, RCPT and DATA.

The opportunistic profile is what most MTAs do by default (Postfix
``smtp_tls_security_level = may``, Exchange Online's default): encrypt if the
server offers STARTTLS, verify nothing, and fall back to plaintext when
STARTTLS is missing. Such a sender delivers to a self-signed host, over a
channel an active attacker could read.

The policy profile is Exchange Online's default sender: opportunistic TLS,
raised to authenticated TLS where the recipient domain publishes MTA-STS or
DANE. Before connecting it asks ``policy.PolicyEngine`` what each MX must
satisfy (a ``Requirement``) and applies that while verifying; every session
then carries a ``PolicyResult`` for TLS-RPT. The strict and opportunistic
profiles never look policies up.

Simulated hosts listen on port 0, so ``Network.ports`` maps each MX address
to the port where its "port 25" really listens (``https_ports`` does the same
for MTA-STS policy hosts). Everything else (MX, A,
preference order) comes from the fake DNS server, through dnspython.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Mapping

import dns.exception
import dns.resolver
from cryptography import x509

from . import timeouts
from . import dane
from .classify import classify_tls_error, classify_verify_code
from .loopback import is_loopback
from .outcome import FailureClass, Outcome, Reply, Stage, Trust
from .policy import REPORTABLE, Check, PolicyEngine, Requirement
from .revocation import check_revocation
from .smtpwire import SMTPDisconnected, SMTPProtocolError, SMTPTimeout, Wire
from .tls import shared_client_context

C = FailureClass

DEFAULT_SENDER = "postmaster@outbound.harness.test"
DEFAULT_EHLO = "outbound.harness.test"


@dataclass(frozen=True)
class ClientProfile:
    """A sender's TLS behaviour: whether it requires TLS, verifies the certificate and checks revocation."""

    name: str
    require_tls: bool
    verify: bool
    check_revocation: bool
    ehlo_name: str = DEFAULT_EHLO
    use_starttls: bool = True  # False: never issues STARTTLS, even when offered
    send_sni: bool = True  # False: the ClientHello carries no server_name extension
    apply_policies: bool = False  # look up MTA-STS and DANE and apply them


STRICT = ClientProfile("strict", require_tls=True, verify=True, check_revocation=True)
OPPORTUNISTIC = ClientProfile("opportunistic", require_tls=False, verify=False, check_revocation=False)
POLICY = ClientProfile("policy", require_tls=False, verify=False, check_revocation=False, apply_policies=True)
PROFILES = {profile.name: profile for profile in (STRICT, OPPORTUNISTIC, POLICY)}


class TLSMode(str, enum.Enum):
    """The point in a connection at which the client starts TLS."""

    STARTTLS = "starttls"  # plaintext banner and EHLO, then STARTTLS (RFC 3207): ports 25 and 587
    IMPLICIT = "implicit"  # TLS from the first byte, before the banner (RFC 8314 section 3): port 465

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ClientSettings:
    """Per-scenario changes to the sender's connection. A field left at None keeps the default.

    ``reply_timeout``, ``handshake_timeout`` and ``revocation_timeout``
    replace the named defaults in ``timeouts`` so that a scenario about a
    silent peer ends in a fraction of a second. ``mx_limit`` caps the MX addresses one delivery tries, as
    Postfix's ``smtp_mx_address_limit`` does; None tries them all.
    """

    tls_mode: TLSMode = TLSMode.STARTTLS
    reply_timeout: float | None = None
    handshake_timeout: float | None = None
    revocation_timeout: float | None = None
    mx_limit: int | None = None


@dataclass(frozen=True)
class Network:
    """The client's view of the simulated Internet.

    ``dns`` is the (address, port) of the fake DNS server; ``ports`` maps an
    MX address to its real listening port (the port 25 of the simulation).
    """

    dns: tuple[str, int]
    ports: Mapping[str, int] = field(default_factory=dict)
    smtp_port: int = 25
    https_ports: Mapping[str, int] = field(default_factory=dict)  # MTA-STS policy hosts


class _Stop(Exception):
    """Ends an attempt early with its outcome fields."""

    def __init__(self, stage: Stage, failure_class: FailureClass, reason: str, error: str = "",
                 **fields: object) -> None:
        super().__init__(error)
        self.stage = stage
        self.failure_class = failure_class
        self.reason = reason
        self.error = error
        self.fields = fields


class SMTPClient:
    """Delivers one message the way the chosen profile does, and reports an ``Outcome``."""

    def __init__(self, network: Network, cafile: str | None, profile: ClientProfile = STRICT,
                 reply_timeout: float = timeouts.REPLY_TIMEOUT,
                 handshake_timeout: float = timeouts.HANDSHAKE_TIMEOUT,
                 revocation_timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT,
                 tls_mode: TLSMode = TLSMode.STARTTLS, mx_limit: int | None = None,
                 source_address: str | None = None, context: ssl.SSLContext | None = None,
                 require_dane: bool = False) -> None:
        if ((profile.verify and context is None) or profile.apply_policies) and not cafile:
            raise ValueError("a verifying profile needs the CA file of the simulated public roots")
        self.network = network
        self.profile = profile
        self.reply_timeout = reply_timeout
        self.handshake_timeout = handshake_timeout
        self.revocation_timeout = revocation_timeout
        self.tls_mode = tls_mode
        self.mx_limit = mx_limit
        # source_address: the loopback address this sender connects from, so a
        # receiver sees a distinct peer (and its PTR) per simulated host.
        # context: a sender's own TLS settings, replacing the profile's default.
        self.source_address = source_address
        if context is None:
            context = shared_client_context(cafile, bool(cafile) and profile.verify)
        self._context = context
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [network.dns[0]]
        self._resolver.port = network.dns[1]
        self._resolver.lifetime = timeouts.DNS_TIMEOUT
        self._resolver.timeout = timeouts.DNS_TIMEOUT / 3
        self._policies = PolicyEngine(network.dns, cafile, network.https_ports, require_dane) \
            if profile.apply_policies and cafile else None
        self._webpki_context = shared_client_context(cafile, True) if self._policies and cafile else None
        self._unverified_context = shared_client_context(None, False)

    # DNS

    def mx_hosts(self, domain: str) -> list[str]:
        """Return the MX host names of ``domain`` in preference order.

        Without an MX record the domain itself is the mail host (RFC 5321
        section 5.1, the implicit MX).
        """
        try:
            answer = self._resolver.resolve(domain, "MX")
        except dns.resolver.NoAnswer:
            return [domain]
        records = sorted(answer, key=lambda record: (record.preference, str(record.exchange)))
        return [str(record.exchange).rstrip(".") for record in records]

    def addresses(self, host: str) -> list[str]:
        answer = self._resolver.resolve(host, "A")
        return [record.address for record in answer]

    # Delivery

    def deliver(self, recipient: str, sender: str = DEFAULT_SENDER, message: bytes | None = None) -> Outcome:
        """Deliver to ``recipient``, trying each MX in order until one accepts."""
        started = time.perf_counter()
        domain = recipient.rpartition("@")[2]
        try:
            hosts = self.mx_hosts(domain)
        except dns.exception.DNSException as error:
            return self._dns_failure(f"MX look-up for {domain} failed: {error}", started)

        sts = self._policies.discover(domain) if self._policies else None
        attempts: list[Outcome] = []
        for host in hosts:
            requirement = self._policies.requirement(domain, host, sts) if self._policies and sts else None
            if requirement is not None and requirement.defer is not None:
                attempts.append(self._deferred(host, requirement, started))
                continue
            try:
                addresses = self.addresses(host)
            except dns.exception.DNSException as error:
                attempts.append(self._dns_failure(f"A look-up for MX {host} failed: {error}", started))
                continue
            for address in addresses:
                outcome = self._attempt(host, address, sender, recipient, message, started, requirement)
                attempts.append(outcome)
                if outcome.delivered or _permanent(outcome) or self._limit_reached(attempts):
                    return _with_attempts(outcome, attempts)
        return _with_attempts(attempts[-1], attempts)

    def _limit_reached(self, attempts: list[Outcome]) -> bool:
        return self.mx_limit is not None and len(attempts) >= self.mx_limit

    def _dns_failure(self, error: str, started: float) -> Outcome:
        return Outcome(C.DNS_FAILURE, "lookup-failed", Stage.DNS, error=error, profile=self.profile.name,
                       duration_s=time.perf_counter() - started, transcript=(f"-- {error}",))

    def _deferred(self, host: str, requirement: Requirement, started: float) -> Outcome:
        """Return the outcome of a delivery that a policy stops before it connects to ``host``."""
        assert requirement.defer is not None
        failure_class, reason, message = requirement.defer
        return Outcome(failure_class, reason, Stage.POLICY, error=message, profile=self.profile.name,
                       duration_s=time.perf_counter() - started, transcript=(f"-- {message}",), mx_host=host,
                       policy=requirement.result(failure_class, reason, None, None))

    def _attempt(self, host: str, address: str, sender: str, recipient: str, message: bytes | None,
                 started: float, requirement: Requirement | None = None) -> Outcome:
        if not is_loopback(address):
            return Outcome(C.CONNECTION_FAILURE, "not-loopback", Stage.CONNECT, profile=self.profile.name,
                           error=f"MX {host} resolves to {address}, outside loopback: not connecting",
                           mx_host=host, mx_address=address)
        outcome, local = self._session(host, address, sender, recipient, message, started, requirement)
        if requirement is None:
            return outcome
        failed = outcome.failure_class in REPORTABLE
        if failed and not requirement.enforce and requirement.check is not Check.NONE:
            return self._testing_retry(outcome, host, address, sender, recipient, message, started, requirement)
        return dataclasses.replace(outcome, policy=requirement.result(
            outcome.failure_class if failed else None, outcome.reason if failed else "", address, local))

    def _testing_retry(self, failed: Outcome, host: str, address: str, sender: str, recipient: str,
                       message: bytes | None, started: float, requirement: Requirement) -> Outcome:
        """Deliver after a failure under an MTA-STS policy in testing mode, and report the failure.

        RFC 8461 section 5: a testing policy never stops delivery. The
        failure is what enforce mode would have refused, so it goes into the
        TLS-RPT result. The message then goes out in a new session without
        verification, as it would with no policy at all.
        """
        note = f"-- testing mode: would refuse ({failed.label}); reconnecting without verification"
        retry, local = self._session(host, address, sender, recipient, message, started, requirement.relaxed())
        report = requirement.result(failed.failure_class, failed.reason, address, local)
        return dataclasses.replace(retry, policy=report, transcript=(*failed.transcript, note, *retry.transcript))

    def _session(self, host: str, address: str, sender: str, recipient: str, message: bytes | None,
                 started: float, requirement: Requirement | None) -> tuple[Outcome, str | None]:
        port = self.network.ports.get(address, self.network.smtp_port)
        session = _Session(self, host, address, port, requirement)
        try:
            session.run(sender, recipient, message or _default_message(sender, recipient))
        except _Stop as stop:
            return session.outcome(started, stop), session.local_address
        finally:
            session.close()
        return session.outcome(started, None), session.local_address

    def context_for(self, requirement: Requirement | None) -> ssl.SSLContext:
        """Return the TLS context a session uses: the profile's, or the one its policy demands."""
        check = requirement.check if requirement else Check.NONE
        if check is Check.WEBPKI and self._webpki_context is not None:
            return self._webpki_context
        if check in (Check.DANE, Check.ENCRYPT):
            return self._unverified_context  # TLSA matching happens after the handshake
        return self._context


class _Session:
    """One SMTP session from connect to QUIT, with everything it observed."""

    def __init__(self, client: SMTPClient, host: str, address: str, port: int,
                 requirement: Requirement | None = None) -> None:
        self.client = client
        self.profile = client.profile
        self.requirement = requirement
        self.check = requirement.check if requirement else Check.NONE
        self.require_tls = self.profile.require_tls or bool(requirement and requirement.require_tls)
        self.local_address: str | None = None
        self.host = host
        self.address = address
        self.port = port
        self.sock: socket.socket | None = None
        self.wire: Wire | None = None
        self.trust = Trust.NONE
        self.protocol: str | None = None
        self.cipher: str | None = None
        self.last_reply: Reply | None = None

    def run(self, sender: str, recipient: str, message: bytes) -> None:
        self._connect()
        implicit = self.client.tls_mode is TLSMode.IMPLICIT
        if implicit:
            self._note("implicit TLS: handshaking before the banner")
            self._secure()
        self._expect(Stage.BANNER, None, 220)
        extensions = self._ehlo()
        if not implicit and self._starttls(extensions):
            self._ehlo()
        self._expect(Stage.MAIL, f"MAIL FROM:<{sender}>", 250)
        self._expect(Stage.RCPT, f"RCPT TO:<{recipient}>", 250, 251)
        self._expect(Stage.DATA, "DATA", 354)
        self._send_message(message)
        accepted = self._expect(Stage.DATA, None, 250)
        self._quit()
        self.last_reply = accepted

    # Steps

    def _connect(self) -> None:
        try:
            source = (self.client.source_address, 0) if self.client.source_address else None
            self.sock = socket.create_connection((self.address, self.port), timeout=timeouts.CONNECT_TIMEOUT,
                                                 source_address=source)
            # Commands are small writes that get an immediate reply: without TCP_NODELAY,
            # Nagle's algorithm and delayed ACKs add about 40 ms per exchange.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.local_address = self.sock.getsockname()[0]  # TLS-RPT's sending-mta-ip
        except OSError as error:
            raise _Stop(Stage.CONNECT, C.CONNECTION_FAILURE, _connect_reason(error),
                        f"connect to {self.address}:{self.port} failed: {error}") from error
        self.wire = Wire(self.sock, self.client.reply_timeout)
        self.wire.note(f"connected to {self.host} [{self.address}]:{self.port}")

    def _ehlo(self) -> set[str]:
        reply = self._expect(Stage.EHLO, f"EHLO {self.profile.ehlo_name}", 250)
        return {line.split()[0].upper() for line in reply.lines[1:] if line.strip()}

    def _starttls(self, extensions: set[str]) -> bool:
        """Upgrade to TLS; return True when the session is now encrypted."""
        if "STARTTLS" not in extensions:
            if self.require_tls:
                raise _Stop(Stage.EHLO, C.STARTTLS_NOT_SUPPORTED, "not-advertised",
                            f"TLS is required, but was not offered by host {self.host}[{self.address}]",
                            reply=self.last_reply)
            self._note("STARTTLS not offered: continuing in plaintext (opportunistic)")
            return False
        if not self.profile.use_starttls:
            self._note("STARTTLS offered, but this sender never issues it: continuing in plaintext")
            return False

        reply = self._command(Stage.STARTTLS, "STARTTLS")
        if reply.code != 220:
            if self.require_tls:
                raise _Stop(Stage.STARTTLS, C.STARTTLS_NOT_SUPPORTED, "refused",
                            f"STARTTLS refused by {self.host}[{self.address}]: {reply}", reply=reply)
            self._note(f"STARTTLS refused ({reply.code}): continuing in plaintext (opportunistic)")
            return False
        self._refuse_injected_plaintext()
        self._secure()
        return True

    def _secure(self) -> None:
        self._handshake()
        if self.check is Check.DANE:
            self._check_tlsa()
        if self.profile.check_revocation or self.check is Check.WEBPKI:
            self._check_revocation()

    def _refuse_injected_plaintext(self) -> None:
        # Bytes that arrived after "220 ready" but before the handshake were
        # sent in plaintext and could have been injected by an attacker
        # (the STARTTLS command injection class, CVE-2011-0411 and kin):
        # a careful client discards the session instead of reading them.
        assert self.wire is not None
        if self.wire.buffer:
            count = len(self.wire.buffer)
            raise _Stop(Stage.STARTTLS, C.VALIDATION_FAILURE, "starttls-injection",
                        f"{count} bytes of plaintext followed the 220 reply to STARTTLS before the handshake",
                        reply=self.last_reply)

    def _handshake(self) -> None:
        assert self.sock is not None and self.wire is not None
        context = self.client.context_for(self.requirement)
        self.sock.settimeout(self.client.handshake_timeout)
        try:
            server_name = self.host if self.profile.send_sni else None
            tls = context.wrap_socket(self.sock, server_hostname=server_name, do_handshake_on_connect=False)
            self.sock = tls
            # CPython's do_handshake turns the socket timeout into one deadline
            # for the whole handshake (Modules/_ssl.c), so a peer that sends its
            # ServerHello a byte at a time is still cut off at handshake_timeout.
            tls.do_handshake()
        except (ssl.SSLError, OSError) as error:
            failure = classify_tls_error(error)
            stage = Stage.CERTIFICATE if failure.verify_code is not None else Stage.HANDSHAKE
            self._note(f"TLS handshake failed: {error}")
            raise _Stop(stage, failure.failure_class, failure.reason, str(error) or repr(error),
                        verify_code=failure.verify_code, verify_message=failure.verify_message,
                        alert=failure.alert, trust=Trust.UNTRUSTED if failure.verify_code else Trust.NONE) \
                from error
        self.wire.sock = tls
        self.protocol = tls.version()
        self.cipher = (tls.cipher() or ("?",))[0]
        verified = self.profile.verify or self.check is Check.WEBPKI
        self.trust = Trust.VERIFIED if verified else _unverified_trust(tls)
        self._note(f"{self.trust.value.capitalize()} TLS connection established to {self.host}"
                   f"[{self.address}]:{self.port}: {self.protocol} with cipher {self.cipher}")

    def _check_tlsa(self) -> None:
        """Authenticate the server's chain against the MX's usable TLSA records (RFC 7672)."""
        assert isinstance(self.sock, ssl.SSLSocket) and self.requirement is not None
        sent = self.sock._sslobj.get_unverified_chain() or []  # type: ignore[union-attr]
        # NOTE: private in Python 3.11 and 3.12, public as SSLSocket.get_unverified_chain() from 3.13.
        chain = [x509.load_der_x509_certificate(cert.public_bytes(2)) for cert in sent]
        now = datetime.datetime.now(datetime.timezone.utc)
        failure = dane.authenticate(chain, self.requirement.tlsa, self.requirement.dane_names, now)
        if failure is not None:
            self._note(f"DANE: {failure.message}")
            raise _Stop(Stage.CERTIFICATE, failure.failure_class, failure.reason, failure.message,
                        trust=Trust.UNTRUSTED)
        self.trust = Trust.VERIFIED
        self._note(f"DANE: the chain matches a TLSA record of {dane.tlsa_name(self.host)}")

    def _check_revocation(self) -> None:
        assert isinstance(self.sock, ssl.SSLSocket)
        chain = self.sock._sslobj.get_verified_chain()  # type: ignore[union-attr]
        # NOTE: private in Python 3.11 and 3.12, public as SSLSocket.get_verified_chain() from 3.13.
        leaf, issuer = (x509.load_der_x509_certificate(cert.public_bytes(2)) for cert in chain[:2])
        result = check_revocation(leaf, issuer, timeout=self.client.revocation_timeout)
        self._note(f"revocation: {result.message}")
        if not result.good:
            assert result.verify_code is not None
            failure = classify_verify_code(result.verify_code, result.message)
            raise _Stop(Stage.REVOCATION, failure.failure_class, failure.reason, result.message,
                        verify_code=result.verify_code, verify_message=result.message, trust=Trust.UNTRUSTED)

    def _send_message(self, message: bytes) -> None:
        assert self.wire is not None
        try:
            self.wire.send_data(_dot_stuff(message) + b".\r\n")
        except OSError as error:
            # A peer that closes right after "354" makes this write fail (a
            # broken pipe or a reset) before any reply can be read.
            raise _Stop(Stage.DATA, C.PROTOCOL_ERROR, "connection-lost", str(error) or repr(error)) from error

    def _quit(self) -> None:
        try:
            self._command(Stage.QUIT, "QUIT")
        except _Stop:
            pass  # the message is accepted; a rude close after QUIT changes nothing

    # Plumbing

    def _note(self, text: str) -> None:
        assert self.wire is not None
        self.wire.note(text)

    def _command(self, stage: Stage, line: str | None) -> Reply:
        assert self.wire is not None
        try:
            if line is None:
                reply = self.wire.read_reply(f"the {stage.value} reply")
            else:
                reply = self.wire.command(line)
        except SMTPTimeout as error:
            raise _Stop(stage, C.PROTOCOL_ERROR, "reply-timeout", str(error)) from error
        except SMTPProtocolError as error:
            raise _Stop(stage, C.PROTOCOL_ERROR, error.reason, str(error)) from error
        except (SMTPDisconnected, OSError) as error:
            raise _Stop(stage, C.PROTOCOL_ERROR, "connection-lost", str(error) or repr(error)) from error
        self.last_reply = reply
        return reply

    def _expect(self, stage: Stage, line: str | None, *codes: int) -> Reply:
        reply = self._command(stage, line)
        if reply.code not in codes:
            raise _Stop(stage, C.SMTP_REJECTED, f"reply-{reply.code}", f"{stage.value}: {reply}", reply=reply)
        return reply

    def outcome(self, started: float, stop: _Stop | None) -> Outcome:
        common = dict(
            protocol=self.protocol, cipher=self.cipher, mx_host=self.host, mx_address=self.address,
            mx_port=self.port, transcript=tuple(self.wire.transcript) if self.wire else (),
            duration_s=time.perf_counter() - started, profile=self.profile.name, trust=self.trust,
        )
        if stop is None:
            return Outcome(C.DELIVERED, _delivered_reason(self.trust), None, reply=self.last_reply,
                           **common)  # type: ignore[arg-type]
        common.update(stop.fields)
        return Outcome(stop.failure_class, stop.reason, stop.stage, error=stop.error, **common)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def _unverified_trust(tls: ssl.SSLSocket) -> Trust:
    return Trust.UNTRUSTED if tls.getpeercert(binary_form=True) else Trust.ANONYMOUS


def _delivered_reason(trust: Trust) -> str:
    """Name how a delivery was protected when it was not verified; a verified one needs no reason."""
    reasons = {Trust.NONE: "plaintext", Trust.ANONYMOUS: "anonymous-tls", Trust.UNTRUSTED: "untrusted-tls"}
    return reasons.get(trust, "")


def _connect_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection-refused"
    if isinstance(error, TimeoutError):
        return "connect-timeout"
    return "connect-error"


def _permanent(outcome: Outcome) -> bool:
    """Return True for a 5xx reply to MAIL, RCPT or DATA, which ends delivery; other failures move on to the next MX."""
    return outcome.reply is not None and outcome.reply.code >= 500 and \
        outcome.stage in (Stage.MAIL, Stage.RCPT, Stage.DATA)


def _with_attempts(outcome: Outcome, attempts: list[Outcome]) -> Outcome:
    import dataclasses

    return dataclasses.replace(outcome, attempts=tuple(attempts))


def _default_message(sender: str, recipient: str) -> bytes:
    return (
        f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: smtp-tls-harness test message\r\n"
        "\r\nThis message was delivered by smtp-tls-harness over loopback.\r\n"
    ).encode()


def _dot_stuff(message: bytes) -> bytes:
    """Apply RFC 5321 section 4.5.2 transparency and end the message with CRLF."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"\r\n".join(stuffed) + b"\r\n"
