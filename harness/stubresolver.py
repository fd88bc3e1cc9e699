"""A small DNS stub resolver for ``smtp-harness probe``: A, AAAA, MX and PTR look-ups at one server.

The probe needs four kinds of look-up: the MX hosts of a domain, their
addresses (A and AAAA) and the PTR of each address. ``StubResolver`` sends
each as one query to one recursive or authoritative server and returns the
records of the answer section.

It does not recurse, so it follows a CNAME chain only as far as the answer
section goes. It does not validate DNSSEC, and it reads neither the search
list nor the ``options`` of resolv.conf. It keeps no cache and asks one
server, with no fallback to a second.

It exists because ``smtp-harness probe`` must finish, as a fresh command, in a
small fraction of the time sslyze takes. Importing ``dns.resolver``
(dnspython 2.9) pulls in its asynchronous back-ends and checks installed
features through importlib.metadata. In a fresh Python 3.11 process that
has already imported the standard library modules the probe uses, it took
45 ms, ``dns.message`` with ``dns.query`` 41 ms, dnslib 6 ms and this
module 1 ms (median of 7 processes with compiled bytecode, timed with
time.perf_counter around the import on a 2-core machine). This module needs
only socket, struct, os, time, ipaddress and dataclasses. dnspython stays
the resolver of the lab's strict client, and dnslib the codec of the lab's
DNS server.

The wire format follows RFC 1035: the message format of section 4.1, name
compression of section 4.1.4, UDP messages of at most 512 octets (section
4.2.1) and the two-octet length prefix on TCP (section 4.2.2). A response
with the TC bit set is asked again over TCP (RFC 7766 section 5 makes TCP
support mandatory for stub resolvers). RFC 3596 defines the AAAA record and
the nibble names under ip6.arpa. A datagram counts as the response only
when it carries the query's ID and question and comes from the server's
address and port (RFC 1035 section 7.3; RFC 5452 explains the spoofing this
check defends against).

Invalid input (an empty or over-long name, a value that is not an IP address,
an unsupported record type) raises ConfigurationError, the package's error
for an unusable argument, so the command line prints it as one line. Every
failed look-up raises a DnsLookupError subclass whose message names the
name, the record type and the server.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time
from dataclasses import dataclass

from . import timeouts
from .errors import ConfigurationError, HarnessError

# NOTE: no logging here. Importing the logging module costs about 5.6 ms
# (`python -X importtime -c "import logging"` on the same machine), nearly a
# tenth of the probe's start-up budget, and the errors already carry the
# name, the type, the server and the cause.

__all__ = [
    "DnsLookupError",
    "LookupTimeout",
    "MalformedResponse",
    "NameNotFound",
    "NoRecords",
    "ServerFailure",
    "ServerUnreachable",
    "StubResolver",
    "reverse_name",
]

# TYPE values (RFC 1035 section 3.2.2; AAAA is 28, RFC 3596 section 2.1).
RECORD_TYPES = {"A": 1, "AAAA": 28, "MX": 15, "PTR": 12}
TYPE_CNAME = 5
CLASS_IN = 1

# RCODE values defined in RFC 1035 section 4.1.1.
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
RCODE_NXDOMAIN = 3

# The resolver sends no EDNS0 OPT record, so a server answers over UDP with
# at most 512 octets (RFC 1035 section 4.2.1) and sets TC when more would not
# fit. The probe's answers are small (one name's A, AAAA, MX or PTR set), and
# a query without OPT needs no retry for servers that reject EDNS and no
# extended RCODE. A larger answer costs one TCP exchange. Datagrams are read
# with room for 64 KiB anyway, so an oversized answer is still parsed.
MAX_DATAGRAM = 65535

# RFC 1035 section 2.3.4: a label has at most 63 octets and a name at most 255
# on the wire, which is 253 characters in text form without the final dot.
MAX_LABEL = 63
MAX_NAME_TEXT = 253
MAX_NAME_WIRE = 255

# Aliases followed within one answer section before the chain counts as a loop.
MAX_CNAME_CHAIN = 16

# With no answer after this share of the timeout, the UDP query is sent once
# more on the same socket, so one lost datagram costs a third of the budget
# instead of all of it. RFC 1035 section 4.2.1 suggests at least 2 to 5 s
# between retransmissions to spare busy servers. This resolver sends at most
# two datagrams to one server per look-up, so a shorter interval adds little
# load.
RETRANSMIT_SHARE = 1 / 3

NAMESERVER_PORT = 53

_HEADER = struct.Struct("!HHHHHH")
_QUESTION_TAIL = struct.Struct("!HH")
_RECORD_TAIL = struct.Struct("!HHIH")
_LENGTH_PREFIX = struct.Struct("!H")

_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_FLAG_RD = 0x0100


# Errors

class DnsLookupError(HarnessError):
    """A DNS look-up failed. ``name`` and ``rtype`` are the question, ``server`` is ``address:port``."""

    def __init__(self, message: str, name: str, rtype: str, server: str) -> None:
        super().__init__(message)
        self.name = name
        self.rtype = rtype
        self.server = server

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keeps the error picklable for worker processes despite the extra arguments.
        return (type(self), (str(self), self.name, self.rtype, self.server))


class NameNotFound(DnsLookupError):
    """The server returned NXDOMAIN (RCODE 3): the name does not exist."""


class NoRecords(DnsLookupError):
    """The server returned NOERROR without a record of the type (NODATA), even after following CNAMEs."""


class ServerFailure(DnsLookupError):
    """The server returned an RCODE other than NOERROR and NXDOMAIN, such as SERVFAIL or REFUSED."""

    def __init__(self, message: str, name: str, rtype: str, server: str, rcode: int) -> None:
        super().__init__(message, name, rtype, server)
        self.rcode = rcode
        self.rcode_name = rcode_name(rcode)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.name, self.rtype, self.server, self.rcode))


class LookupTimeout(DnsLookupError):
    """No usable answer arrived within the resolver's timeout."""


class MalformedResponse(DnsLookupError):
    """The server sent something, but no well-formed DNS response to the query."""


class ServerUnreachable(DnsLookupError):
    """The server's address rejected the query: ICMP port unreachable, a refused TCP connection, no route."""


def rcode_name(rcode: int) -> str:
    """Return the mnemonic of an RCODE (``SERVFAIL``), or ``RCODE 9`` for one RFC 1035 does not define."""
    return RCODE_NAMES.get(rcode, f"RCODE {rcode}")


class WireFormatError(ValueError):
    """Bytes that are no well-formed DNS message. The resolver raises MalformedResponse in its place."""


# Names

def encode_name(name: str) -> bytes:
    """Return ``name`` in wire form (length-prefixed labels ending in the root label).

    A trailing dot is accepted. Labels may contain any printable ASCII
    character other than the dot and the backslash, because escapes are not
    supported. Raises ConfigurationError for an empty name or label, a label
    longer than 63 characters, a name longer than 253 characters or a
    non-ASCII name.
    """
    if not isinstance(name, str):
        raise ConfigurationError(f"DNS name {name!r} is not a string")
    text = name[:-1] if name.endswith(".") else name
    if not text:
        raise ConfigurationError(f"DNS name {name!r} is empty; give a domain name such as mx.example.test")
    if len(text) > MAX_NAME_TEXT:
        raise ConfigurationError(f"DNS name {name[:40]!r}... has {len(text)} characters; "
                                 f"the maximum is {MAX_NAME_TEXT} (RFC 1035 section 2.3.4)")
    if not all("!" <= character <= "~" and character != "\\" for character in text):
        raise ConfigurationError(f"DNS name {name!r} contains a space, a backslash, a control or a non-ASCII "
                                 "character; give an internationalized name in its A-label form (xn--...)")
    wire = bytearray()
    for label in text.split("."):
        if not label:
            raise ConfigurationError(f"DNS name {name!r} has an empty label (two dots in a row or a leading dot)")
        if len(label) > MAX_LABEL:
            raise ConfigurationError(f"DNS name {name!r} has a label of {len(label)} characters; "
                                     f"the maximum is {MAX_LABEL} (RFC 1035 section 2.3.4)")
        wire.append(len(label))
        wire += label.encode("ascii")
    wire.append(0)
    return bytes(wire)


def reverse_name(address: str) -> str:
    """Return the PTR owner name of an IP address, without the trailing dot.

    ``127.175.0.5`` becomes ``5.0.175.127.in-addr.arpa`` (RFC 1035 section
    3.5), and an IPv6 address becomes its 32 nibbles in reverse order under
    ``ip6.arpa`` (RFC 3596 section 2.5). Raises ConfigurationError when
    ``address`` is not an IP address.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError as error:
        raise ConfigurationError(f"{address!r} is not an IPv4 or IPv6 address, so it has no PTR name; "
                                 "give an address such as 127.0.0.1 or ::1") from error
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None:
        parsed = ipaddress.IPv6Address(parsed.packed)  # the zone index (%eth0) is local, not part of the name
    return parsed.reverse_pointer


def _label_text(label: bytes) -> str:
    """Return a label from the wire in text form, escaping dots, backslashes and unprintable octets.

    The escapes are those of RFC 1035 section 5.1 (``\\.`` and ``\\DDD``), so
    a label that contains a dot can never read as two labels.
    """
    if all(0x21 <= octet <= 0x7E and octet not in (0x2E, 0x5C) for octet in label):
        return label.decode("ascii")
    parts = []
    for octet in label:
        if octet in (0x2E, 0x5C):
            parts.append("\\" + chr(octet))
        elif 0x21 <= octet <= 0x7E:
            parts.append(chr(octet))
        else:
            parts.append(f"\\{octet:03d}")
    return "".join(parts)


def _name_text(labels: tuple[bytes, ...]) -> str:
    return ".".join(_label_text(label) for label in labels)


def _name_key(labels: tuple[bytes, ...]) -> tuple[bytes, ...]:
    # DNS compares names without regard to ASCII case (RFC 1035 section 2.3.3).
    return tuple(label.lower() for label in labels)


# The message codec

def build_query(query_id: int, wire_name: bytes, rtype: str) -> bytes:
    """Return a standard query with one question of class IN, recursion desired, and no EDNS."""
    header = _HEADER.pack(query_id, _FLAG_RD, 1, 0, 0, 0)
    return header + wire_name + _QUESTION_TAIL.pack(RECORD_TYPES[rtype], CLASS_IN)


# Record and Response are plain classes with __slots__, not dataclasses: each
# dataclass costs about half a millisecond at import, and these two are
# internal, built once per message and never changed.

class Record:
    """One resource record of the answer section, with its RDATA decoded for the types the resolver uses.

    ``value`` is the address as text for A and AAAA, a ``(preference,
    exchange)`` pair for MX, the target name as text for PTR, the target's
    labels for CNAME (to follow the chain), and the raw RDATA for any other
    type. Names in text form have no trailing dot.
    """

    __slots__ = ("name", "rtype", "rclass", "ttl", "value")

    def __init__(self, name: tuple[bytes, ...], rtype: int, rclass: int, ttl: int, value: object) -> None:
        self.name = name
        self.rtype = rtype
        self.rclass = rclass
        self.ttl = ttl
        self.value = value


class Response:
    """A parsed DNS response: the header fields the resolver uses, the question and the answer records."""

    __slots__ = ("query_id", "flags", "question", "answers")

    def __init__(self, query_id: int, flags: int, question: tuple[tuple[bytes, ...], int, int] | None,
                 answers: tuple[Record, ...]) -> None:
        self.query_id = query_id
        self.flags = flags
        self.question = question
        self.answers = answers

    @property
    def rcode(self) -> int:
        return self.flags & 0x000F

    @property
    def truncated(self) -> bool:
        return bool(self.flags & _FLAG_TC)


class _Reader:
    """Reads a DNS message with a bounds check on every field."""

    def __init__(self, message: bytes) -> None:
        self.message = bytes(message)  # slices of a bytearray would be bytearrays, which ipaddress rejects
        self.offset = 0

    def take(self, count: int, what: str) -> bytes:
        end = self.offset + count
        if end > len(self.message):
            raise WireFormatError(f"the message ends inside the {what} at offset {self.offset} "
                             f"({len(self.message)} octets in all)")
        chunk = self.message[self.offset:end]
        self.offset = end
        return chunk

    def unpack(self, layout: struct.Struct, what: str) -> tuple[int, ...]:
        return layout.unpack(self.take(layout.size, what))

    def name(self, what: str) -> tuple[bytes, ...]:
        labels, self.offset = read_name(self.message, self.offset, what)
        return labels


def read_name(message: bytes, offset: int, what: str = "name", limit: int | None = None
              ) -> tuple[tuple[bytes, ...], int]:
    """Read a possibly compressed name at ``offset``; return its labels and the offset after it.

    Compression (RFC 1035 section 4.1.4) replaces the end of a name with a
    pointer to an earlier occurrence. Every pointer must point before the
    start of the run of labels that contains it. The runs therefore start at
    ever smaller offsets, so a pointer loop is rejected instead of followed.
    No label may reach ``limit`` (the end of the RDATA that contains the name).
    """
    if not isinstance(message, bytes):
        message = bytes(message)  # slices of a bytearray would be unhashable bytearrays
    size = len(message) if limit is None else limit
    labels: list[bytes] = []
    wire_length = 1  # the root label
    position = run_start = offset
    end: int | None = None
    while True:
        if position >= size:
            raise WireFormatError(f"the {what} at offset {offset} runs past the end of its data")
        length = message[position]
        kind = length & 0xC0
        if kind == 0xC0:
            if position + 1 >= size:
                raise WireFormatError(f"the {what} at offset {offset} ends inside a compression pointer")
            target = ((length & 0x3F) << 8) | message[position + 1]
            if target >= run_start:
                raise WireFormatError(f"the {what} at offset {offset} has a compression pointer to offset {target}, "
                                      f"which does not point back before offset {run_start} (a pointer loop)")
            if end is None:
                end = position + 2
            position = run_start = target
            continue
        if kind != 0:
            raise WireFormatError(f"the {what} at offset {offset} has a label of the reserved type 0x{kind:02x}")
        if length == 0:
            return tuple(labels), (position + 1 if end is None else end)
        wire_length += 1 + length
        if wire_length > MAX_NAME_WIRE:
            raise WireFormatError(f"the {what} at offset {offset} is longer than {MAX_NAME_WIRE} octets")
        if position + 1 + length > size:
            raise WireFormatError(f"the {what} at offset {offset} runs past the end of its data")
        labels.append(message[position + 1:position + 1 + length])
        position += 1 + length


def parse_header_and_question(message: bytes) -> tuple[Response, _Reader, tuple[int, int, int]]:
    """Parse the header and the question section, and return them with the reader and the three record counts."""
    reader = _Reader(message)
    query_id, flags, question_count, *counts = reader.unpack(_HEADER, "header")
    question = None
    if question_count > 1:
        raise WireFormatError(f"the response has {question_count} questions; a response to this resolver has one")
    if question_count == 1:
        qname = reader.name("question name")
        qtype, qclass = reader.unpack(_QUESTION_TAIL, "question")
        question = (qname, qtype, qclass)
    return Response(query_id, flags, question, ()), reader, (counts[0], counts[1], counts[2])


def parse_response(message: bytes) -> Response:
    """Parse a whole DNS response, raising WireFormatError for anything malformed.

    Every record of every section is checked for well-formed names and an
    RDATA length inside the message (RFC 1035 section 7.3), and no octets may
    follow the last record. Only the answer section is returned.
    """
    header, reader, (answer_count, authority_count, additional_count) = parse_header_and_question(message)
    answers = tuple(_read_record(reader, "answer") for _ in range(answer_count))
    for section, count in (("authority", authority_count), ("additional", additional_count)):
        for _ in range(count):
            _read_record(reader, section)
    if reader.offset != len(message):
        raise WireFormatError(f"{len(message) - reader.offset} octets follow the last record of the message")
    return Response(header.query_id, header.flags, header.question, answers)


def _read_record(reader: _Reader, section: str) -> Record:
    owner = reader.name(f"{section} record's owner name")
    rtype, rclass, ttl, rdlength = reader.unpack(_RECORD_TAIL, f"{section} record")
    start = reader.offset
    rdata = reader.take(rdlength, f"RDATA of an {section} record")
    value = _decode_rdata(reader.message, start, rdata, rtype) if section == "answer" else rdata
    return Record(owner, rtype, rclass, ttl, value)


def _decode_rdata(message: bytes, start: int, rdata: bytes, rtype: int) -> object:
    """Decode the RDATA of the types the resolver returns; keep any other type's RDATA as bytes."""
    if rtype == RECORD_TYPES["A"]:
        if len(rdata) != 4:
            raise WireFormatError(f"an A record has {len(rdata)} octets of RDATA instead of 4")
        return str(ipaddress.IPv4Address(rdata))
    if rtype == RECORD_TYPES["AAAA"]:
        if len(rdata) != 16:
            raise WireFormatError(f"an AAAA record has {len(rdata)} octets of RDATA instead of 16")
        return str(ipaddress.IPv6Address(rdata))
    if rtype == RECORD_TYPES["MX"]:
        if len(rdata) < 3:
            raise WireFormatError(f"an MX record has only {len(rdata)} octets of RDATA")
        preference = _LENGTH_PREFIX.unpack(rdata[:2])[0]
        return preference, _name_text(_rdata_name(message, start + 2, start + len(rdata), "MX exchange"))
    if rtype == RECORD_TYPES["PTR"]:
        return _name_text(_rdata_name(message, start, start + len(rdata), "PTR target"))
    if rtype == TYPE_CNAME:
        return _rdata_name(message, start, start + len(rdata), "CNAME target")  # labels, to follow the chain
    return rdata


def _rdata_name(message: bytes, offset: int, rdata_end: int, what: str) -> tuple[bytes, ...]:
    # A pointer in the RDATA may reach any earlier name, but the name itself
    # must end exactly where the RDATA ends.
    labels, end = read_name(message, offset, what, limit=rdata_end)
    if end != rdata_end:
        raise WireFormatError(f"the {what} ends at offset {end}, but its RDATA ends at offset {rdata_end}")
    return labels


# The resolver

@dataclass(frozen=True)
class StubResolver:
    """Sends A, AAAA, MX and PTR queries to one DNS server and returns the answers.

    ``nameserver`` is an ``(IP address, port)`` pair, for example
    ``("127.0.0.53", 53)``. ``timeout`` bounds the whole look-up in seconds:
    the UDP query, its one retransmission and any TCP retry after a truncated
    answer. Constructing a resolver does no I/O, and a resolver keeps no
    state between look-ups, so threads may share one.
    """

    nameserver: tuple[str, int]
    timeout: float = timeouts.DNS_TIMEOUT

    def __post_init__(self) -> None:
        address, port = _checked_nameserver(self.nameserver)
        object.__setattr__(self, "nameserver", (address, port))
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not self.timeout > 0:
            raise ConfigurationError(f"DNS timeout {self.timeout!r} is invalid; give a number of seconds above 0")

    @classmethod
    def from_system(cls, timeout: float = timeouts.DNS_TIMEOUT, path: str = "/etc/resolv.conf") -> "StubResolver":
        """Return a resolver for the first usable ``nameserver`` line of resolv.conf, on port 53.

        The file is read as glibc reads it (resolv/res_init.c): a line whose
        first character is ``;`` or ``#`` is a comment, and the keyword must
        start the line and be followed by a space or a tab. A value that is no
        IPv4 or IPv6 address is skipped. An IPv6 zone index (``fe80::1%eth0``)
        is kept. With no usable line, or no readable file, the resolver
        queries 127.0.0.1: resolv.conf(5) names the name server on the local
        machine as the default, and glibc fills in 127.0.0.1.
        """
        return cls((_system_nameserver(path), NAMESERVER_PORT), timeout)

    @property
    def server(self) -> str:
        """The server as ``address:port``, with brackets around an IPv6 address."""
        address, port = self.nameserver
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"

    def addresses(self, name: str, rtype: str = "A") -> list[str]:
        """Return the IPv4 (``rtype="A"``) or IPv6 (``"AAAA"``) addresses of ``name``, in answer order.

        A CNAME chain within the answer section is followed to its end.
        """
        if rtype not in ("A", "AAAA"):
            raise ConfigurationError(f"address record type {rtype!r} is not supported; use 'A' or 'AAAA'")
        return [str(value) for value in self._lookup(name, rtype)]

    def mx(self, name: str) -> list[tuple[int, str]]:
        """Return the ``(preference, exchange)`` pairs of ``name``'s MX records, in answer order.

        Exchanges have no trailing dot. Sorting by preference is the caller's
        choice. A null MX (an exchange that is the root name) comes back as
        an empty string.
        """
        return [value for value in self._lookup(name, "MX") if isinstance(value, tuple)]

    def ptr(self, address: str) -> list[str]:
        """Return the names of the PTR records of an IPv4 or IPv6 address, without trailing dots.

        The question, and so the ``name`` of any DnsLookupError, is the
        address's reverse name (see ``reverse_name``).
        """
        return [str(value) for value in self._lookup(reverse_name(address), "PTR")]

    # One look-up

    def _lookup(self, name: str, rtype: str) -> list[object]:
        wire_name = encode_name(name)
        started = time.monotonic()
        exchange = _Exchange(self, name, rtype, wire_name, started + self.timeout)
        response = exchange.run(started)
        if response.rcode not in (0, RCODE_NXDOMAIN):
            label = rcode_name(response.rcode)
            raise ServerFailure(f"DNS server {self.server} returned {label} (RCODE {response.rcode}) for the "
                                f"{rtype} query for {name}", name, rtype, self.server, response.rcode)
        owner, values = self._follow_chain(response, name, rtype, read_name(wire_name, 0)[0])
        via = "" if _name_key(owner) == exchange.question_key else f" (its CNAME chain ends at {_name_text(owner)})"
        if response.rcode == RCODE_NXDOMAIN:
            raise NameNotFound(f"{name} does not exist{via}: DNS server {self.server} returned NXDOMAIN for the "
                               f"{rtype} query", name, rtype, self.server)
        if not values:
            raise NoRecords(f"{name} has no {rtype} record{via}: DNS server {self.server} returned NOERROR "
                            "without one", name, rtype, self.server)
        return values

    def _follow_chain(self, response: Response, name: str, rtype: str, question: tuple[bytes, ...]
                      ) -> tuple[tuple[bytes, ...], list[object]]:
        """Return the last owner of the CNAME chain that starts at the question name, and its ``rtype`` values.

        Records of owners outside the chain are ignored, because a resolver
        must not accept data for names it did not ask about.
        """
        wanted = RECORD_TYPES[rtype]
        owner = question
        seen = {_name_key(owner)}
        for _ in range(MAX_CNAME_CHAIN + 1):
            key = _name_key(owner)
            matching = [r for r in response.answers if r.rclass == CLASS_IN and _name_key(r.name) == key]
            values = [r.value for r in matching if r.rtype == wanted]
            aliases = [r.value for r in matching if r.rtype == TYPE_CNAME]
            if values or not aliases:
                return owner, values
            owner = aliases[0]  # type: ignore[assignment]  # CNAME values are label tuples
            if _name_key(owner) in seen:
                problem = f"its CNAME chain for {name} loops back to {_name_text(owner)}"
                break
            seen.add(_name_key(owner))
        else:
            problem = f"its CNAME chain for {name} is longer than {MAX_CNAME_CHAIN} aliases"
        raise MalformedResponse(f"DNS server {self.server} sent no valid response to the {rtype} query for "
                                f"{name}: {problem}", name, rtype, self.server)


class _Exchange:
    """One query and its response: UDP first, TCP after a truncated answer, all before ``deadline``."""

    def __init__(self, resolver: StubResolver, name: str, rtype: str, wire_name: bytes, deadline: float) -> None:
        self.resolver = resolver
        self.name = name
        self.rtype = rtype
        self.question_key = _name_key(read_name(wire_name, 0)[0])
        self.deadline = deadline
        self.query_id = int.from_bytes(os.urandom(2), "big")
        self.query = build_query(self.query_id, wire_name, rtype)
        self.rejected: list[str] = []  # why each UDP datagram that was no answer to the query was ignored

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.resolver.nameserver[0] else socket.AF_INET

    def run(self, started: float) -> Response:
        response = self._over_udp(started)
        if response.truncated:
            response = self._over_tcp()
        return response

    # UDP

    def _over_udp(self, started: float) -> Response:
        retransmit_at = started + self.resolver.timeout * RETRANSMIT_SHARE
        try:
            sock = socket.socket(self.family, socket.SOCK_DGRAM)
        except OSError as error:  # for example no IPv6 support in the kernel
            raise self._unreachable("UDP", error) from error
        with sock:
            # A connected socket receives datagrams from the server's address
            # and port only, the first of the checks against spoofed answers.
            try:
                sock.connect(self.resolver.nameserver)
            except OSError as error:
                raise self._unreachable("UDP", error) from error
            self._send(sock)
            retransmitted = False
            while True:
                now = time.monotonic()
                if now >= self.deadline:
                    raise self._udp_timed_out()
                if not retransmitted and now >= retransmit_at:
                    self._send(sock)
                    retransmitted = True
                datagram = self._receive(sock, (self.deadline if retransmitted else retransmit_at) - now)
                if datagram is not None:
                    response = self._accept(datagram, "UDP")
                    if response is not None:
                        return response

    def _send(self, sock: socket.socket) -> None:
        try:
            sock.send(self.query)
        except OSError as error:
            raise self._unreachable("UDP", error) from error

    def _receive(self, sock: socket.socket, wait: float) -> bytes | None:
        sock.settimeout(max(wait, 0.001))
        try:
            return sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            return None
        except OSError as error:  # an ICMP port unreachable arrives as ConnectionRefusedError
            raise self._unreachable("UDP", error) from error

    def _accept(self, message: bytes, transport: str) -> Response | None:
        """Return the parsed response when ``message`` answers the query, else record why not and return None.

        The ID, the QR bit, the opcode and the question must match first
        (RFC 1035 section 7.3). Only a message that passed those checks is
        parsed in full, and a malformed one then fails the look-up at once.
        A truncated answer is not parsed beyond the question, because its
        sections may be cut anywhere.
        """
        header = None
        problem = self._header_mismatch(message)
        if problem is None:
            try:
                header, _, _ = parse_header_and_question(message)
            except WireFormatError as error:
                problem = f"a response whose question section is malformed ({error})"
            else:
                problem = self._question_mismatch(header)
        if problem is not None or header is None:
            self.rejected.append(problem or "an unreadable message")
            return None
        if header.truncated:
            return header
        try:
            return parse_response(message)
        except WireFormatError as error:
            raise self._malformed(f"{error} (over {transport})") from error

    def _header_mismatch(self, message: bytes) -> str | None:
        if len(message) < _HEADER.size:
            return f"{len(message)} octets, too short for a DNS header of {_HEADER.size}"
        query_id, flags = struct.unpack_from("!HH", message)
        if query_id != self.query_id:
            return f"a message with ID {query_id} instead of {self.query_id}"
        if not flags & _FLAG_QR:
            return "a query instead of a response (QR bit clear)"
        if (flags >> 11) & 0xF != 0:
            return f"a response with opcode {(flags >> 11) & 0xF} instead of 0 (QUERY)"
        return None

    def _question_mismatch(self, header: Response) -> str | None:
        if header.question is None:
            # Some servers leave the question out of an error response, and
            # the ID alone then ties it to the query.
            return None if header.rcode != 0 else "a NOERROR response without a question section"
        qname, qtype, qclass = header.question
        if _name_key(qname) != self.question_key or qtype != RECORD_TYPES[self.rtype] or qclass != CLASS_IN:
            return f"a response to another question ({_name_text(qname)}, type {qtype}, class {qclass})"
        return None

    # TCP

    def _over_tcp(self) -> Response:
        """Ask again over TCP with a two-octet length prefix (RFC 1035 section 4.2.2), within the deadline."""
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM)
        except OSError as error:
            raise self._unreachable("TCP", error) from error
        with sock:
            try:
                sock.settimeout(self._remaining())
                sock.connect(self.resolver.nameserver)
            except TimeoutError as error:
                raise self._tcp_timed_out() from error
            except OSError as error:
                raise self._unreachable("TCP", error) from error
            try:
                sock.settimeout(self._remaining())
                sock.sendall(_LENGTH_PREFIX.pack(len(self.query)) + self.query)
                length = _LENGTH_PREFIX.unpack(self._read_exactly(sock, _LENGTH_PREFIX.size))[0]
                message = self._read_exactly(sock, length)
            except TimeoutError as error:
                raise self._tcp_timed_out() from error
            except OSError as error:  # a reset after the connection was accepted
                raise self._malformed(f"the TCP connection failed before a whole response arrived: "
                                      f"{error.strerror or error}") from error
        response = self._accept(message, "TCP")
        if response is None:
            raise self._malformed(f"over TCP it sent {self.rejected[-1]}")
        if response.truncated:
            # RFC 1123 section 6.1.3.2: a mailer must not use a truncated MX answer.
            raise self._malformed("its TCP response has the TC bit set, so the answer is incomplete")
        return response

    def _read_exactly(self, sock: socket.socket, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            sock.settimeout(self._remaining())
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise self._malformed(f"it closed the TCP connection after {len(data)} of {count} octets")
            data += chunk
        return bytes(data)

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._tcp_timed_out()
        return remaining

    # Errors with the question and the server in their message

    def _udp_timed_out(self) -> DnsLookupError:
        if self.rejected:
            return self._malformed(f"none of the {len(self.rejected)} datagrams it sent within "
                                   f"{self.resolver.timeout:g} s was a response to the query; the last was "
                                   f"{self.rejected[-1]}")
        return self._timed_out("over UDP, query sent twice")

    def _tcp_timed_out(self) -> LookupTimeout:
        return self._timed_out("over TCP, after a truncated UDP answer")

    def _timed_out(self, how: str) -> LookupTimeout:
        server = self.resolver.server
        return LookupTimeout(f"DNS server {server} sent no answer to the {self.rtype} query for {self.name} "
                             f"within {self.resolver.timeout:g} s ({how}); check that a DNS server listens "
                             "there, or raise the timeout", self.name, self.rtype, server)

    def _malformed(self, problem: str) -> MalformedResponse:
        server = self.resolver.server
        return MalformedResponse(f"DNS server {server} sent no valid response to the {self.rtype} query for "
                                 f"{self.name}: {problem}", self.name, self.rtype, server)

    def _unreachable(self, transport: str, error: OSError) -> ServerUnreachable:
        server = self.resolver.server
        return ServerUnreachable(f"DNS server {server} is unreachable over {transport} for the {self.rtype} query "
                                 f"for {self.name}: {error.strerror or error}", self.name, self.rtype, server)


# Configuration

def _checked_nameserver(nameserver: object) -> tuple[str, int]:
    if not isinstance(nameserver, tuple) or len(nameserver) != 2:
        raise ConfigurationError(f"DNS server {nameserver!r} is invalid; give an (IP address, port) pair "
                                 "such as ('127.0.0.1', 53)")
    address, port = nameserver
    try:
        ipaddress.ip_address(address)
    except ValueError as error:
        raise ConfigurationError(f"DNS server address {address!r} is not an IPv4 or IPv6 address; "
                                 "the stub resolver takes addresses, not host names") from error
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigurationError(f"DNS server port {port!r} is invalid; give a number from 1 to 65535")
    return str(address), port


def _system_nameserver(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        # glibc ignores a missing or unreadable resolv.conf the same way.
        return "127.0.0.1"
    for line in lines:
        if line.startswith(("nameserver ", "nameserver\t")):
            fields = line[len("nameserver"):].split()
            if fields and _is_address(fields[0]):
                return fields[0]
    return "127.0.0.1"


def _is_address(text: str) -> bool:
    # NOTE: ipaddress rejects the legacy IPv4 forms that glibc's inet_aton
    # accepts (127.1, octal and hex parts), so such a line is skipped here.
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
