"""The fake DNS server: authoritative answers from the scenarios' zones, over UDP and TCP.

Every simulated mail domain lives under ``.test`` (reserved by RFC 2606, so no
name here can leak to a real host). A scenario adds its records (MX, A, AAAA,
PTR, TXT, TLSA, CNAME) to the shared ``Zone``; the server answers from it with
the AA bit set, NXDOMAIN for names it has never heard of and an empty NOERROR
answer for a known name without the requested type (RFC 2308 NODATA).

DNSSEC is simulated at the level a sending MTA sees it. An MTA does not
validate signatures itself; it asks a validating resolver, which sets the AD
bit on answers it proved secure and answers SERVFAIL when the proof is bogus
(RFC 4035 section 3.2.3, RFC 6840 section 5.8). ``Zone.set_dnssec`` tells the
server which names a validating resolver would call secure or bogus; every
other name is insecure (no AD bit), as for an unsigned zone.

dnslib parses and packs the messages; the sockets are ours, because dnslib's
DNSServer listens on all interfaces unless told otherwise, prints every query
to stdout and takes half a second to stop.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import selectors
import socket
import struct
import threading
from dataclasses import dataclass

import dnslib

from . import timeouts
from .errors import ConfigurationError, HarnessError, ServerError
from .loopback import Wakeup, allocate_address, require_loopback

log = logging.getLogger(__name__)

RECORD_TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "CNAME", "TLSA")

# The verdicts a validating resolver can reach on the answers for a name.
DNSSEC_STATUSES = ("secure", "insecure", "bogus")

# The zone-file form of each record type's value, for error messages.
VALUE_FORMS = {
    "A": "an IPv4 address such as 127.0.0.1",
    "AAAA": "an IPv6 address such as ::1",
    "MX": "a preference and a host name such as '10 mx.example.test'",
    "PTR": "a host name such as mx.example.test",
    "CNAME": "a host name such as mx.example.test",
    "TXT": "text",
    "TLSA": "usage, selector, matching type and hex data such as '3 1 1 <SHA-256 of the key in hex>'",
}

# DNS over UDP without EDNS carries at most 512 octets (RFC 1035 section 4.2.1).
UDP_PAYLOAD_LIMIT = 512
MAX_TCP_MESSAGE = 65535

# RFC 1035 section 2.3.4 limits a label to 63 octets and a name to 255 on the
# wire, which is 253 characters in presentation form without the final dot.
MAX_NAME = 253
_LABEL = re.compile(r"^(?:\*|[a-z0-9_-]{1,63})$")

# RFC 2181 section 8: a TTL is an unsigned 32-bit number whose top bit is zero.
MAX_TTL = 2 ** 31 - 1


class MalformedQuery(HarnessError):
    """Bytes received by the DNS server that are no DNS query it can answer."""


@dataclass(frozen=True)
class Record:
    """One resource record. ``value`` is in zone-file presentation form.

    Examples: ``Record("example.test", "MX", "10 mx.example.test")``,
    ``Record("4.3.2.127.in-addr.arpa", "PTR", "mx.example.test")``,
    ``Record("_25._tcp.mx.example.test", "TLSA", "3 1 1 <hex>")``.
    """

    name: str
    rtype: str
    value: str
    ttl: int = 300

    def __post_init__(self) -> None:
        rtype = self.rtype.upper()
        if rtype not in RECORD_TYPES:
            raise ConfigurationError(
                f"DNS record type {self.rtype!r} for {self.name!r} is not supported; "
                f"use one of {', '.join(RECORD_TYPES)}"
            )
        object.__setattr__(self, "rtype", rtype)
        object.__setattr__(self, "name", normalize(self.name))
        check_name(self.name)
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or not 0 <= self.ttl <= MAX_TTL:
            raise ConfigurationError(f"DNS record {self.name!r} has an invalid TTL {self.ttl!r}; "
                                     f"use an integer from 0 to {MAX_TTL} seconds")
        # Packing once here means a record the zone accepts can always be
        # sent: a bad value fails when the scenario loads, not in the server.
        try:
            dnslib.DNSRecord(rr=[self.to_rr()]).pack()
        except ConfigurationError:
            raise
        except Exception as error:  # dnslib and struct raise many types for out-of-range fields
            raise ConfigurationError(
                f"DNS {self.rtype} record for {self.name!r} has an invalid value {self.value!r}: {error}"
            ) from error

    def to_rr(self) -> dnslib.RR:
        try:
            rdata = _rdata(self.rtype, self.value)
            return dnslib.RR(self.name, getattr(dnslib.QTYPE, self.rtype), rdata=rdata, ttl=self.ttl)
        except Exception as error:  # dnslib raises many types for bad presentation form
            raise ConfigurationError(
                f"DNS {self.rtype} record for {self.name!r} has an invalid value {self.value!r}; "
                f"expected {VALUE_FORMS[self.rtype]} ({error})"
            ) from error


@dataclass(frozen=True)
class RecordTemplate:
    """A record as a scenario file writes it, with ``{domain}``, ``{mx}`` and ``{mx_address}`` to fill in."""

    name: str
    rtype: str
    value: str
    ttl: int = 300

    def __post_init__(self) -> None:
        # Fill with sample values once, so a bad type or value fails when the
        # scenario file loads rather than when a host starts.
        try:
            self.fill(domain="example.test", mx="mx.example.test", mx_address="127.0.0.1")
        except ConfigurationError as error:
            raise ConfigurationError(f"{error} (checked with {{domain}} = example.test, {{mx}} = "
                                     "mx.example.test, {mx_address} = 127.0.0.1)") from error

    def fill(self, **values: str) -> Record:
        name, value = self.name, self.value
        for placeholder, replacement in values.items():
            name = name.replace("{" + placeholder + "}", replacement)
            value = value.replace("{" + placeholder + "}", replacement)
        return Record(name, self.rtype, value, self.ttl)


def _rdata(rtype: str, value: str) -> dnslib.RD:
    if rtype == "A":
        return dnslib.A(str(ipaddress.IPv4Address(value)))
    if rtype == "AAAA":
        return dnslib.AAAA(str(ipaddress.IPv6Address(value)))
    if rtype == "MX":
        preference, exchange = value.split()
        return dnslib.MX(exchange, int(preference))
    if rtype == "PTR":
        return dnslib.PTR(value)
    if rtype == "CNAME":
        return dnslib.CNAME(value)
    if rtype == "TXT":
        # One TXT record may hold several strings of at most 255 octets each.
        data = value.encode()
        return dnslib.TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])
    usage, selector, matching, association = value.split()
    return dnslib.TLSA(int(usage), int(selector), int(matching), bytes.fromhex(association))


def check_name(name: str) -> None:
    """Raise ConfigurationError unless ``name`` is a domain name the zone can serve.

    Labels are 1 to 63 letters, digits, hyphens or underscores (``_25._tcp``
    for TLSA), or ``*``; the whole name is at most 253 characters (RFC 1035
    section 2.3.4).
    """
    labels = name.split(".")
    if not name or len(name) > MAX_NAME or not all(_LABEL.match(label) for label in labels):
        raise ConfigurationError(
            f"DNS name {name!r} is invalid; use labels of 1 to 63 letters, digits, hyphens or "
            f"underscores joined by dots, at most {MAX_NAME} characters in all"
        )


def normalize(name: str) -> str:
    """Return a domain name in the form the zone stores: lower case, no trailing dot."""
    return name.strip().rstrip(".").lower()


def reverse_name(address: str) -> str:
    """Return the PTR owner name of an address (``4.3.2.127.in-addr.arpa``)."""
    return normalize(ipaddress.ip_address(address).reverse_pointer)


class Zone:
    """The records the fake DNS server is authoritative for; safe to change while it serves.

    Records are added and removed in sets, one set per simulated host, so
    scenarios that run at the same time share one server.
    """

    def __init__(self, records: tuple[Record, ...] | list[Record] = ()) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], list[Record]] = {}
        self._dnssec: dict[str, str] = {}
        self.add(records)

    def set_dnssec(self, names: list[str] | tuple[str, ...], status: str) -> None:
        """Mark answers for ``names`` as a validating resolver would see them.

        ``secure`` sets the AD bit, ``bogus`` turns every answer for the name
        into SERVFAIL, ``insecure`` (the default) does neither.
        """
        if status not in DNSSEC_STATUSES:
            raise ConfigurationError(f"DNSSEC status {status!r} is not known; use one of "
                                     f"{', '.join(DNSSEC_STATUSES)}")
        with self._lock:
            for name in names:
                if status == "insecure":
                    self._dnssec.pop(normalize(name), None)
                else:
                    self._dnssec[normalize(name)] = status

    def dnssec(self, name: str) -> str:
        with self._lock:
            return self._dnssec.get(normalize(name), "insecure")

    def add(self, records: tuple[Record, ...] | list[Record]) -> None:
        with self._lock:
            for record in records:
                self._records.setdefault((record.name, record.rtype), []).append(record)

    def remove(self, records: tuple[Record, ...] | list[Record]) -> None:
        with self._lock:
            for record in records:
                bucket = self._records.get((record.name, record.rtype), [])
                if record in bucket:
                    bucket.remove(record)
                if not bucket:
                    self._records.pop((record.name, record.rtype), None)

    def lookup(self, name: str, rtype: str) -> tuple[list[Record], bool]:
        """Return the records of ``name`` and ``rtype`` and whether the name exists at all."""
        key_name = normalize(name)
        with self._lock:
            found = list(self._records.get((key_name, rtype), []))
            if not found and rtype != "CNAME":
                found = list(self._records.get((key_name, "CNAME"), []))
            exists = bool(found) or any(owner == key_name for owner, _ in self._records)
        return found, exists

    def answer(self, query: bytes) -> bytes:
        """Build the wire-format response to one wire-format query.

        Raises MalformedQuery for bytes that are no DNS query, whatever dnslib
        raised while parsing them.
        """
        try:
            request = dnslib.DNSRecord.parse(query)
        except Exception as error:  # dnslib raises DNSError, BufferError, UnicodeDecodeError, ...
            raise MalformedQuery(f"malformed DNS query of {len(query)} octets: {error}") from error
        if not request.questions:
            raise MalformedQuery("DNS query without a question: nothing to answer")
        reply = request.reply()  # copies the id and question, sets QR, AA and RD
        question = request.q
        rtype = dnslib.QTYPE.get(question.qtype, str(question.qtype))
        status = self.dnssec(str(question.qname))
        if status == "bogus":
            reply.header.rcode = dnslib.RCODE.SERVFAIL
            reply.header.ad = 0  # reply() copies the query's AD bit; a bogus answer is never authenticated
            return reply.pack()
        reply.header.ad = int(status == "secure")
        records, exists = self.lookup(str(question.qname), rtype)
        if not exists:
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
        for record in records:
            reply.add_answer(record.to_rr())
        return reply.pack()


class DnsServer:
    """An authoritative DNS server on one loopback address, UDP and TCP on the same port.

    A context manager: ``__enter__`` binds port 0 and starts the thread,
    ``__exit__`` stops it at once through a wake-up socket and joins it.
    """

    def __init__(self, zone: Zone, address: str | None = None) -> None:
        self.zone = zone
        self.address = address or allocate_address()
        require_loopback(self.address, "DNS server address")
        self.port = 0
        self.queries = 0
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wakeup = Wakeup()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> "DnsServer":
        self._bind()
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.address}", daemon=True)
        self._thread.start()
        log.info("DNS server listening on %s port %d (UDP and TCP)", self.address, self.port)
        return self

    def _bind(self) -> None:
        # UDP picks the port; TCP takes the same number, as resolvers expect.
        # Another process may hold that TCP port, so try a few times.
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.address, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind((self.address, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            udp.setblocking(False)
            tcp.setblocking(False)
            self._udp, self._tcp, self.port = udp, tcp, port
            return
        raise ServerError(f"DNS server could not bind UDP and TCP on one port at {self.address}")

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        selector = selectors.DefaultSelector()
        selector.register(self._udp, selectors.EVENT_READ, "udp")
        selector.register(self._tcp, selectors.EVENT_READ, "tcp")
        self._wakeup.register(selector)
        try:
            while True:
                for key, _ in selector.select():
                    if key.data is self._wakeup:
                        return
                    if key.data == "udp":
                        self._serve_udp()
                    else:
                        self._serve_tcp()
        except BaseException as error:  # stored and re-raised by __exit__
            self._error = error
        finally:
            selector.close()

    def _serve_udp(self) -> None:
        assert self._udp is not None
        try:
            query, peer = self._udp.recvfrom(MAX_TCP_MESSAGE)
        except BlockingIOError:
            return
        response = self._respond(query, peer[0])
        if response is None:
            return
        if len(response) > UDP_PAYLOAD_LIMIT:
            response = _truncated(query)
        self._udp.sendto(response, peer)

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        try:
            connection, peer = self._tcp.accept()
        except BlockingIOError:
            return
        # Resolvers on loopback send the whole query at once; a client that
        # stalls is dropped after DNS_TIMEOUT instead of blocking the server.
        with connection:
            connection.settimeout(timeouts.DNS_TIMEOUT)
            try:
                header = _recv_exactly(connection, 2)
                query = _recv_exactly(connection, struct.unpack("!H", header)[0])
            except (OSError, EOFError) as error:
                log.warning("%s DNS over TCP: dropped an incomplete query: %s", peer[0], error)
                return
            response = self._respond(query, peer[0])
            if response is not None:
                connection.sendall(struct.pack("!H", len(response)) + response)

    def _respond(self, query: bytes, peer: str) -> bytes | None:
        self.queries += 1
        try:
            response = self.zone.answer(query)
        except MalformedQuery as error:
            log.warning("%s sent a malformed DNS query (%d bytes): %s", peer, len(query), error)
            return None
        log.debug("%s DNS query answered (%d bytes)", peer, len(response))
        return response

    def __exit__(self, *exc_info: object) -> None:
        self._wakeup.fire()
        if self._thread is not None:
            self._thread.join(timeouts.SERVER_STOP_TIMEOUT)
            if self._thread.is_alive():
                raise ServerError(f"DNS server {self.address}:{self.port} did not stop within "
                                  f"{timeouts.SERVER_STOP_TIMEOUT} s")
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._wakeup.close()
        if self._error is not None:
            raise ServerError(f"DNS server {self.address}:{self.port} failed: {self._error}") from self._error


def _truncated(query: bytes) -> bytes:
    """Return an empty answer with TC set, which tells the resolver to retry over TCP."""
    reply = dnslib.DNSRecord.parse(query).reply()
    reply.header.tc = 1
    return reply.pack()


def _recv_exactly(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data

