"""The simulated sending host: the admin's outbound MTA, its source address, PTR and block-list entries.

In the sending direction the admin's own MTA connects to a strict receiver
(``receiver.StrictReceiver``). What the receiver judges is fixed by the
sending host's set-up, which a scenario describes with ``SenderSettings``:

* ``family``: IPv4 (a fresh address in 127.0.0.0/8) or IPv6 (``::1``, the
  only IPv6 loopback address). The sender binds this source address, so each
  simulated host is a distinct peer with its own PTR and DNSBL entries.
* ``ptr``: the reverse DNS of that address: forward-confirmed (the PTR name
  resolves back to the address), missing, or pointing at a name whose A
  record is some other address.
* ``dnsbl``: the block list's entry for the address: not listed
  (NXDOMAIN), listed (127.0.0.2 with a TXT reason), or the error code
  127.255.255.254 that a list returns when it rejects the query.
* ``starttls``: whether the MTA issues STARTTLS when offered (``used``) or
  never does (``never``, like Postfix with ``smtp_tls_security_level = none``).
* ``tls``: the versions and TLS 1.2 suites the MTA offers; ``sni``: whether
  its ClientHello names the MX; ``verify``: whether it verifies the MX's
  certificate against the simulated public root.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import ssl
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .client import DEFAULT_EHLO, ClientProfile, Network, SMTPClient
from .dns import Record, reverse_name
from .errors import ConfigurationError
from .hosts import LabHost
from .loopback import allocate_address
from .outcome import Outcome
from .pki import CertificateSpec
from .receiver import DNSBL_ZONE, StrictReceiver, dnsbl_query_name
from .tls import TLSSettings, _set_versions

if TYPE_CHECKING:
    from .lab import Lab
    from .scenario import Scenario, Variant

log = logging.getLogger(__name__)

IPV6_LOOPBACK = "::1"

# ::1 is the only IPv6 loopback address, so two IPv6 senders would share one
# PTR record. Hosts that use it take this lock for their whole lifetime.
_ipv6_lock = threading.Lock()


class Family(str, enum.Enum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"


class PTR(str, enum.Enum):
    """The reverse DNS of the sender's address."""

    FORWARD_CONFIRMED = "forward-confirmed"  # PTR -> name, name A/AAAA -> the address
    MISSING = "missing"  # no PTR record: NXDOMAIN
    NOT_FORWARD_CONFIRMED = "not-forward-confirmed"  # PTR -> name, name A -> another address


class Listing(str, enum.Enum):
    """The DNS block list's entry for the sender's address."""

    NOT_LISTED = "not-listed"
    LISTED = "listed"
    LOOKUP_REFUSED = "lookup-refused"  # 127.255.255.254: the list refused the query


class SenderStartTLS(str, enum.Enum):
    USED = "used"  # issues STARTTLS whenever the receiver offers it
    NEVER = "never"  # sends in plaintext even when STARTTLS is offered


@dataclass(frozen=True)
class SenderSettings:
    """The set-up of the simulated sending host; the module docstring describes each field."""

    family: Family = Family.IPV4
    ptr: PTR = PTR.FORWARD_CONFIRMED
    dnsbl: Listing = Listing.NOT_LISTED
    starttls: SenderStartTLS = SenderStartTLS.USED
    tls: TLSSettings = field(default_factory=TLSSettings)
    sni: bool = True
    verify: bool = True


LISTED_ANSWER = "127.0.0.2"
REFUSED_ANSWER = "127.255.255.254"
LISTED_REASON = "Listed by the harness block list: this address sent spam to a trap"


def sender_context(settings: SenderSettings, cafile: str) -> ssl.SSLContext:
    """Build the sending MTA's TLS context from its settings.

    Versions below TLS 1.2 need ``security_level = 0`` in OpenSSL 3, as on
    the server side. Without SNI the name cannot be checked, so only the
    chain is verified, as Postfix does at level "verify" with no match names.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _set_versions(context, settings.tls.min_version, settings.tls.max_version)
    ciphers = settings.tls.ciphers
    if settings.tls.security_level is not None:
        ciphers += f":@SECLEVEL={settings.tls.security_level}"
    try:
        context.set_ciphers(ciphers)
    except ssl.SSLError as error:
        raise ConfigurationError(f"OpenSSL ({ssl.OPENSSL_VERSION}) accepts no cipher in "
                                 f"{settings.tls.ciphers!r} for the sender: {error}") from error
    context.check_hostname = settings.verify and settings.sni
    context.hostname_checks_common_name = False
    if settings.verify:
        context.load_verify_locations(cafile=cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def sender_profile(settings: SenderSettings, ehlo_name: str = DEFAULT_EHLO) -> ClientProfile:
    """Return the client profile of the sending MTA: opportunistic TLS, shaped by its settings."""
    return ClientProfile(
        "sender", require_tls=False, verify=settings.verify, check_revocation=False,
        ehlo_name=ehlo_name, use_starttls=settings.starttls is SenderStartTLS.USED, send_sni=settings.sni,
    )


class SenderClient(SMTPClient):
    """The sending MTA: an ``SMTPClient`` bound to its source address, using the MX addresses of its family."""

    def addresses(self, host: str) -> list[str]:
        ipv6 = self.source_address is not None and ":" in self.source_address
        answer = self._resolver.resolve(host, "AAAA" if ipv6 else "A")
        return [record.address for record in answer]


def sender_records(settings: SenderSettings, address: str, name: str, elsewhere: str) -> list[Record]:
    """Return the DNS records that give the sender's address its PTR and block-list state.

    ``elsewhere`` is the address a not-forward-confirmed name points to instead.
    """
    forward_type = "AAAA" if settings.family is Family.IPV6 else "A"
    records = []
    if settings.ptr is not PTR.MISSING:
        records.append(Record(reverse_name(address), "PTR", name))
    forward = elsewhere if settings.ptr is PTR.NOT_FORWARD_CONFIRMED else address
    records.append(Record(name, forward_type, forward))
    listing = dnsbl_query_name(address, DNSBL_ZONE)
    if settings.dnsbl is Listing.LISTED:
        records += [Record(listing, "A", LISTED_ANSWER), Record(listing, "TXT", LISTED_REASON)]
    elif settings.dnsbl is Listing.LOOKUP_REFUSED:
        records.append(Record(listing, "A", REFUSED_ANSWER))
    return records


class SendingHost(LabHost):
    """A sending scenario's variant: the strict receiver, the sender and their DNS; a context manager.

    The receiver's mail domain is ``inbound.<variant>.<slug>.test`` and the
    sender calls itself ``mail.<variant>.<slug>.test``. ``server`` and
    ``address`` are the receiver's, so code written for receiving hosts
    (``explain``, ``serve``, the pytest fixtures) finds the SMTP server there.
    """

    def __init__(self, lab: "Lab", scenario: "Scenario", variant: "Variant") -> None:
        self.lab = lab
        self.scenario = scenario
        self.variant = variant
        self.settings = variant.sender or SenderSettings()
        self.domain = f"inbound.{variant.name}.{scenario.slug}.test"
        self.mx = f"mx.{self.domain}"
        self.recipient = f"postmaster@{self.domain}"
        self.sender_name = f"mail.{variant.name}.{scenario.slug}.test"
        self.source_address = ""
        self.server: StrictReceiver | None = None
        self.records: list[Record] = []
        self._holds_ipv6 = False

    @property
    def ipv6(self) -> bool:
        return self.settings.family is Family.IPV6

    def __enter__(self) -> "SendingHost":
        if self.ipv6:
            _ipv6_lock.acquire()
            self._holds_ipv6 = True
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        self.source_address = IPV6_LOOPBACK if self.ipv6 else allocate_address()
        receiver_address = IPV6_LOOPBACK if self.ipv6 else allocate_address()
        assert self.lab.pki is not None
        certificate = self.lab.pki.issue(CertificateSpec(names=(self.mx,)))
        self.server = StrictReceiver(self.mx, certificate, (self.lab.dns.address, self.lab.dns.port),
                                     address=receiver_address, loop=self.lab.loop).__enter__()
        self.records = self._records(receiver_address)
        self.lab.zone.add(self.records)

    def _records(self, receiver_address: str) -> list[Record]:
        records = [
            Record(self.domain, "MX", f"10 {self.mx}"),
            Record(self.mx, "AAAA" if self.ipv6 else "A", receiver_address),
        ]
        elsewhere = allocate_address() if not self.ipv6 else "2001:db8::25"  # RFC 3849 documentation prefix
        records += sender_records(self.settings, self.source_address, self.sender_name, elsewhere)
        for template in self.variant.records:
            records.append(template.fill(domain=self.domain, mx=self.mx, mx_address=receiver_address))
        return records

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.lab.zone.remove(self.records)
            if self.server is not None:
                self.server.__exit__(None, None, None)
        finally:
            if self._holds_ipv6:
                self._holds_ipv6 = False
                _ipv6_lock.release()

    def client(self) -> SenderClient:
        assert self.server is not None, "the host is not started"
        network = Network(dns=self.dns_server, ports={self.server.address: self.server.port})
        return SenderClient(network, self.cafile, sender_profile(self.settings, self.sender_name),
                            source_address=self.source_address,
                            context=sender_context(self.settings, self.cafile))

    def deliver(self, profile: str | None = None) -> Outcome:
        """Send one message from the simulated host; classify what the receiver did.

        ``profile`` is accepted for symmetry with receiving hosts and ignored:
        the sender's behaviour comes from the variant's ``sender`` settings.
        """
        outcome = self.client().deliver(self.recipient, sender=f"postmaster@{self.sender_name}")
        return self._with_receiver_view(outcome)

    def _with_receiver_view(self, outcome: Outcome) -> Outcome:
        """Return the outcome with the receiver's policy reason and the receiver's log in the transcript."""
        assert self.server is not None
        if not self.server.wait_idle(self.source_address):
            log.warning("%s: the receiver kept the session open after the sender finished", self.source_address)
        seen = [event for event in self.server.events if event.peer == self.source_address]
        log_lines = tuple(f"-- receiver log: {event.peer} {event.kind}: {event.detail}"
                          + (f" ({event.reason})" if event.reason else "") for event in seen)
        rejection = self.server.rejection(self.source_address)
        changes: dict[str, object] = {"transcript": outcome.transcript + log_lines}
        if rejection is not None and outcome.reply is not None and rejection.detail.startswith(str(outcome.reply.code)):
            changes["reason"] = rejection.reason
        return dataclasses.replace(outcome, **changes)  # type: ignore[arg-type]
