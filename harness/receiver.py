"""The strict receiver: an inbound MX modelled on Outlook.com, which judges the connecting sender.

In the sending direction the admin's MTA is the client, and the peer that
refuses it is a receiver such as Outlook.com's inbound MX. Such a receiver
checks the connecting host rather than a certificate:

* TLS: STARTTLS must come before MAIL FROM, and the handshake offers only
  TLS 1.2 and 1.3 with Microsoft's published TLS 1.2 suites (see ``tls.py``).
  A sender that speaks only TLS 1.0, or offers no suite from that list, gets
  a TLS alert and no SMTP reply at all.
* Reverse DNS: the connecting address must have a PTR record, and the name in
  it must resolve back to the same address (forward-confirmed reverse DNS,
  "FCrDNS").
* DNS block lists: the address is looked up in each DNSBL zone as RFC 5782
  section 2 describes (reversed octets, or nibbles for IPv6, under the zone).
  An A record in 127.0.0.0/8 means listed, with the reason in a TXT record.
  An A record in 127.255.255.0/24 is not a listing: block-list operators
  such as Spamhaus return it when they reject the query itself (sent through
  a public resolver, over quota, misspelt zone). The receiver treats it as a
  failed look-up and defers instead of rejecting.

The dialogue follows Microsoft's published shape: the banner
"220 <host> Microsoft ESMTP MAIL Service ready at <date>", Microsoft's EHLO
keywords and "220 2.0.0 SMTP server ready" for STARTTLS. Reply codes are the
ones Microsoft documents where it documents one (Microsoft Learn, "Email
non-delivery reports and SMTP errors in Exchange Online"): 451 5.7.3 for mail
without STARTTLS, 5.7.25 for an IPv6 sender without reverse DNS, 550 5.7.1 for
a block-list hit. The reply texts are ours. Where Microsoft documents no code
(an IPv4 sender without PTR, a PTR that is not forward-confirmed, a failed
block-list look-up) the code is this profile's choice; ``REPLIES`` says why.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import dns.asyncresolver
import dns.exception
import dns.resolver
from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from . import timeouts
from .eventloop import EventLoopThread
from .outcome import Stage
from .pki import IssuedCertificate
from .smtpserver import MailServer, ServerConfig, ServerEvent, StartTLS, _HarnessSMTP
from .tls import MICROSOFT_TLS12_CIPHERS, TLSSettings, Version

log = logging.getLogger(__name__)

DNSBL_ZONE = "bl.dnsbl.test"

# RFC 5782 section 2.1: a listed address has an A record in 127.0.0.0/8.
LISTED_RANGE = ipaddress.ip_network("127.0.0.0/8")
# Spamhaus returns 127.255.255.252 (typing error in the zone name), .254
# (query through a public or open resolver) and .255 (excessive queries) for
# failed queries, and says they must not be read as listings (Spamhaus news,
# "DNSBL return codes: technical update", 2019).
LOOKUP_ERROR_RANGE = ipaddress.ip_network("127.255.255.0/24")

# Microsoft's EHLO keywords for its inbound MX, minus three that aiosmtpd
# cannot honour. NOTE: DSN, BINARYMIME and CHUNKING are left out because
# aiosmtpd implements neither DSN parameters nor BDAT; a sender using them
# would get errors from us that Outlook.com would not give.
EHLO_KEYWORDS = ("SIZE 157286400", "PIPELINING", "ENHANCEDSTATUSCODES", "STARTTLS", "8BITMIME", "SMTPUTF8")
MAX_MESSAGE_SIZE = 157286400

# policy reason -> reply template. {peer}, {name}, {zone} and {text} are filled in.
REPLIES = {
    # Microsoft documents 451 5.7.3 "Must issue a STARTTLS command first".
    "starttls-required": "451 5.7.3 STARTTLS is required: issue STARTTLS before MAIL FROM",
    # Microsoft documents 5.7.25 for an IPv6 sender without reverse DNS.
    "ipv6-ptr-missing": "550 5.7.25 Service unavailable, the sending IPv6 address [{peer}] "
                        "must have a reverse DNS (PTR) record",
    "ipv6-ptr-not-forward-confirmed": "550 5.7.25 Service unavailable, the reverse DNS name {name} of the "
                                      "sending IPv6 address [{peer}] does not resolve back to that address",
    # Profile's choice: Microsoft documents 5.7.25 for IPv6 only. RFC 7372
    # registers X.7.25 as "reverse DNS validation failed" for any
    # address, a missing PTR and a PTR that is not forward-confirmed alike,
    # so the profile uses it for IPv4 too. Permanent (5xx), because NXDOMAIN
    # or a mismatching A record is a definite answer, not a look-up failure.
    "ptr-missing": "550 5.7.25 Service unavailable, client host [{peer}] has no reverse DNS (PTR) record",
    "ptr-not-forward-confirmed": "550 5.7.25 Service unavailable, the reverse DNS name {name} of client "
                                 "host [{peer}] does not resolve back to that address",
    # Microsoft's consumer service and its Spamhaus check reject with 550 5.7.1.
    "dnsbl-listed": "550 5.7.1 Service unavailable, client host [{peer}] blocked using {zone}; {text}",
    # Profile's choice: a failed look-up says nothing about the sender, so the
    # reply is temporary (4xx) and the sender retries. X.4.3 is RFC 3463's
    # "directory server failure", the code for DNS trouble on the way.
    "dnsbl-lookup-error": "451 4.4.3 Temporary failure: the block list look-up of client host [{peer}] "
                          "in {zone} failed ({text}); try again later",
    "ptr-lookup-error": "451 4.4.3 Temporary failure: the reverse DNS look-up of client host [{peer}] "
                        "failed ({text}); try again later",
}

BANNER = "Microsoft ESMTP MAIL Service ready at {date}"
STARTTLS_REPLY = "220 2.0.0 SMTP server ready"


@dataclass(frozen=True)
class ReceiverPolicy:
    """The checks the strict receiver makes on a connecting sender.

    The default is the Outlook.com-like profile. ``dnsbl_zones`` are looked
    up in the fake DNS server, like a receiver's ``zen.spamhaus.org``.
    """

    require_starttls: bool = True
    require_ptr: bool = True
    require_forward_confirmed: bool = True
    dnsbl_zones: tuple[str, ...] = (DNSBL_ZONE,)
    tls: TLSSettings = field(default_factory=lambda: TLSSettings(
        min_version=Version.TLS1_2, max_version=Version.TLS1_3, ciphers=MICROSOFT_TLS12_CIPHERS))


OUTLOOK_LIKE = ReceiverPolicy()


@dataclass(frozen=True)
class Verdict:
    """A policy decision against one peer: the reason and the full reply line."""

    reason: str
    reply: str
    stage: Stage


def dnsbl_query_name(address: str, zone: str) -> str:
    """Return the DNSBL query name of an address (RFC 5782 section 2.1 and 2.4).

    ``127.0.0.2`` in ``bl.dnsbl.test`` is ``2.0.0.127.bl.dnsbl.test``; an
    IPv6 address is written as 32 reversed nibbles.
    """
    reverse = ipaddress.ip_address(address).reverse_pointer
    stem = reverse.rsplit(".", 2)[0]  # drop in-addr.arpa / ip6.arpa
    return f"{stem}.{zone}"


def _verdict(reason: str, stage: Stage, **values: str) -> Verdict:
    return Verdict(reason, REPLIES[reason].format(**values), stage)


class PeerChecks:
    """The DNS checks of one connecting address, through the fake DNS server.

    Look-ups go out with dnspython's asyncio resolver so the receiver's event
    loop keeps serving other sessions while one waits for DNS.
    """

    def __init__(self, policy: ReceiverPolicy, dns_server: tuple[str, int]) -> None:
        self.policy = policy
        self.resolver = dns.asyncresolver.Resolver(configure=False)
        self.resolver.nameservers = [dns_server[0]]
        self.resolver.port = dns_server[1]
        self.resolver.lifetime = timeouts.DNS_TIMEOUT
        self.resolver.timeout = timeouts.DNS_TIMEOUT / 3

    async def reverse_dns(self, peer: str) -> Verdict | None:
        """Check that ``peer`` has a PTR record whose name resolves back to ``peer``."""
        if not self.policy.require_ptr:
            return None
        ipv6 = ipaddress.ip_address(peer).version == 6
        missing = "ipv6-ptr-missing" if ipv6 else "ptr-missing"
        try:
            names = await self._names(peer)
        except dns.exception.DNSException as error:
            log.warning("%s reverse DNS look-up failed: %r", peer, error)
            return _verdict("ptr-lookup-error", Stage.MAIL, peer=peer, text=type(error).__name__)
        if not names:
            return _verdict(missing, Stage.MAIL, peer=peer)
        if self.policy.require_forward_confirmed and not await self._confirms(names, peer, ipv6):
            reason = "ipv6-ptr-not-forward-confirmed" if ipv6 else "ptr-not-forward-confirmed"
            return _verdict(reason, Stage.MAIL, peer=peer, name=names[0])
        return None

    async def _names(self, peer: str) -> list[str]:
        try:
            answer = await self.resolver.resolve_address(peer)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [str(record.target).rstrip(".") for record in answer]

    async def _confirms(self, names: list[str], peer: str, ipv6: bool) -> bool:
        wanted = ipaddress.ip_address(peer)
        for name in names:
            try:
                answer = await self.resolver.resolve(name, "AAAA" if ipv6 else "A")
            except dns.exception.DNSException as error:
                # This name does not confirm the address, but another PTR name might.
                log.info("%s forward look-up of PTR name %s failed: %r", peer, name, error)
                continue
            if any(ipaddress.ip_address(record.address) == wanted for record in answer):
                return True
        return False

    async def block_lists(self, peer: str) -> Verdict | None:
        """Look ``peer`` up in each DNSBL zone; return the first listing or failed look-up."""
        for zone in self.policy.dnsbl_zones:
            verdict = await self._block_list(peer, zone)
            if verdict is not None:
                return verdict
        return None

    async def _block_list(self, peer: str, zone: str) -> Verdict | None:
        name = dnsbl_query_name(peer, zone)
        try:
            answer = await self.resolver.resolve(name, "A")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None  # not listed
        except dns.exception.DNSException as error:
            log.warning("%s block-list look-up in %s failed: %r", peer, zone, error)
            return _verdict("dnsbl-lookup-error", Stage.RCPT, peer=peer, zone=zone, text=type(error).__name__)
        codes = [ipaddress.ip_address(record.address) for record in answer]
        errors = [code for code in codes if code in LOOKUP_ERROR_RANGE or code not in LISTED_RANGE]
        if errors:
            return _verdict("dnsbl-lookup-error", Stage.RCPT, peer=peer, zone=zone,
                            text=f"the list answered {errors[0]}, an error code, not a listing")
        return _verdict("dnsbl-listed", Stage.RCPT, peer=peer, zone=zone, text=await self._reason(name))

    async def _reason(self, name: str) -> str:
        try:
            answer = await self.resolver.resolve(name, "TXT")
        except dns.exception.DNSException as error:
            log.info("TXT look-up of block-list entry %s failed: %r", name, error)
            return "listed"
        return " ".join(b"".join(record.strings).decode("utf-8", "replace") for record in answer)


class _PolicyHandler:
    """aiosmtpd handler that enforces the receiver's policy at EHLO, MAIL, RCPT and DATA."""

    def __init__(self, receiver: "StrictReceiver") -> None:
        self.receiver = receiver

    async def handle_exception(self, error: Exception) -> str:
        if not isinstance(error, TLSSetupException):
            log.error("SMTP session failed: %r", error)
        return "421 4.3.0 closing connection"

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        offered = [word for word in EHLO_KEYWORDS
                   if word != "STARTTLS" or (server.tls_context is not None and server._tls_protocol is None)]
        lines = [f"{server.hostname} Hello [{_peer(session)}]", *offered]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        peer = _peer(session)
        if self.receiver.policy.require_starttls and server._tls_protocol is None:
            return self._reject(peer, _verdict("starttls-required", Stage.MAIL))
        verdict = await self.receiver.checks.reverse_dns(peer)
        if verdict is not None:
            return self._reject(peer, verdict)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        peer = _peer(session)
        verdict = await self.receiver.checks.block_lists(peer)
        if verdict is not None:
            return self._reject(peer, verdict)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        peer = _peer(session)
        detail = f"from=<{envelope.mail_from}> to={envelope.rcpt_tos} size={len(envelope.content or b'')}"
        self.receiver.record(ServerEvent(peer, "message", detail))
        return "250 2.6.0 Queued mail for delivery"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "221 2.0.0 Service closing transmission channel"

    def _reject(self, peer: str, verdict: Verdict) -> str:
        log.info("%s rejected at %s (%s): %s", peer, verdict.stage, verdict.reason, verdict.reply)
        self.receiver.record(ServerEvent(peer, "rejected", verdict.reply, verdict.reason))
        return verdict.reply


def _peer(session: Session) -> str:
    return str(session.peer[0]) if session.peer else "?"


class StrictReceiver(MailServer):
    """The Outlook.com-like inbound MX on one loopback address (IPv4 or ``::1``); a context manager.

    ``dns_server`` is the (address, port) of the fake DNS server that holds
    the senders' PTR records and the DNSBL zones. ``events`` lists TLS
    failures with OpenSSL's reason, policy rejections with their reason
    (``kind == "rejected"``) and accepted messages.
    """

    def __init__(self, hostname: str, certificate: IssuedCertificate, dns_server: tuple[str, int],
                 policy: ReceiverPolicy = OUTLOOK_LIKE, address: str | None = None,
                 loop: EventLoopThread | None = None) -> None:
        config = ServerConfig(hostname=hostname, certificate=certificate, tls=policy.tls,
                              starttls=StartTLS.OFFERED, banner=BANNER, starttls_reply=STARTTLS_REPLY)
        super().__init__(config, address=address, loop=loop)
        self.policy = policy
        self.checks = PeerChecks(policy, dns_server)

    def rejection(self, peer: str) -> ServerEvent | None:
        """Return the last policy rejection of ``peer``, if any."""
        found = [event for event in self.events if event.kind == "rejected" and event.peer == peer]
        return found[-1] if found else None

    def _new_session(self) -> _HarnessSMTP:
        assert self._loop is not None
        date = email.utils.format_datetime(datetime.now(timezone.utc))
        session = _HarnessSMTP(
            self,
            handler=_PolicyHandler(self),
            hostname=self.config.hostname,
            ident=self.config.banner.format(date=date),
            tls_context=self._tls_context,
            timeout=timeouts.SERVER_IDLE_TIMEOUT,
            data_size_limit=MAX_MESSAGE_SIZE,
            enable_SMTPUTF8=True,
            loop=self._loop.loop,
        )
        self._sessions.add(session)
        return session

