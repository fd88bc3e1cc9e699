"""The probe's stub resolver against the lab's DNS server, against misbehaving servers, and against dnslib.

Every server here is real and listens on a loopback address: the lab's
DnsServer (dnslib messages over UDP and TCP) and ScriptedDnsServer, whose
test script chooses the bytes of each answer. Misbehaviour (silence, a wrong
ID, an RCODE, garbage, a pointer loop, a TCP stream cut short) therefore
reaches the resolver through real sockets. The codec is cross-checked with
dnslib on messages that hypothesis generates.
"""

from __future__ import annotations

import ipaddress
import pickle
import selectors
import socket
import struct
import threading
from typing import Callable

import dnslib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import timeouts
from harness.dns import DnsServer, Record, Zone
from harness.errors import ConfigurationError, ServerError
from harness.loopback import Wakeup, allocate_address
from harness.stubresolver import (
    DnsLookupError,
    LookupTimeout,
    MalformedResponse,
    NameNotFound,
    NoRecords,
    ServerFailure,
    ServerUnreachable,
    StubResolver,
    WireFormatError,
    build_query,
    encode_name,
    parse_response,
    read_name,
    reverse_name,
)

# Short enough that the tests of silent servers stay fast, long enough for a
# busy 2-core machine to answer on loopback.
SHORT_TIMEOUT = 0.2

# The lab's server sends at most 512 octets over UDP, and 40 A records need more.
MANY_ADDRESSES = [f"127.0.1.{i}" for i in range(1, 41)]


# The lab's DNS server

@pytest.fixture(scope="module")
def lab():
    zone = Zone([
        Record("example.test", "MX", "20 mx2.example.test"),
        Record("example.test", "MX", "10 mx1.example.test"),
        Record("example.test", "MX", "30 mx3.example.test"),
        Record("mx1.example.test", "A", "127.0.0.9"),
        Record("mx1.example.test", "AAAA", "2001:db8::25"),
        Record(reverse_name("127.0.0.9"), "PTR", "mx1.example.test"),
        Record(reverse_name("2001:db8::25"), "PTR", "mx1-v6.example.test"),
        *[Record("many.example.test", "A", address) for address in MANY_ADDRESSES],
    ])
    with DnsServer(zone) as server:
        yield server


@pytest.fixture
def resolver(lab):
    return StubResolver((lab.address, lab.port))


def test_a_record(resolver):
    assert resolver.addresses("mx1.example.test") == ["127.0.0.9"]


def test_name_case_and_trailing_dot(resolver):
    assert resolver.addresses("MX1.Example.TEST.") == ["127.0.0.9"]


def test_aaaa_record(resolver):
    assert resolver.addresses("mx1.example.test", "AAAA") == ["2001:db8::25"]


def test_mx_preferences_in_answer_order(resolver):
    assert resolver.mx("example.test") == [(20, "mx2.example.test"), (10, "mx1.example.test"),
                                           (30, "mx3.example.test")]


def test_ptr_ipv4(resolver):
    assert resolver.ptr("127.0.0.9") == ["mx1.example.test"]


def test_ptr_ipv6(resolver):
    assert resolver.ptr("2001:db8::25") == ["mx1-v6.example.test"]


def test_nxdomain_is_name_not_found(resolver):
    assert resolver.addresses("mx1.example.test") == ["127.0.0.9"]

    with pytest.raises(NameNotFound) as caught:
        resolver.addresses("missing.example.test")

    assert (caught.value.name, caught.value.rtype, caught.value.server) == (
        "missing.example.test", "A", resolver.server)


def test_nodata_is_no_records(resolver):
    assert resolver.mx("example.test")

    with pytest.raises(NoRecords) as caught:
        resolver.mx("mx1.example.test")

    assert (caught.value.name, caught.value.rtype) == ("mx1.example.test", "MX")


def test_ptr_without_record_is_name_not_found(resolver):
    with pytest.raises(NameNotFound) as caught:
        resolver.ptr("127.0.0.10")

    assert caught.value.name == "10.0.0.127.in-addr.arpa"
    assert caught.value.rtype == "PTR"


def test_small_answer_needs_one_query(lab, resolver):
    before = lab.queries

    resolver.addresses("mx1.example.test")

    assert lab.queries == before + 1


def test_truncated_answer_is_retried_over_tcp(lab, resolver):
    before = lab.queries

    addresses = resolver.addresses("many.example.test")

    assert addresses == MANY_ADDRESSES
    assert lab.queries == before + 2  # the UDP query, answered with TC, then the TCP query


def test_error_message_names_question_and_server(resolver):
    with pytest.raises(NameNotFound) as caught:
        resolver.addresses("missing.example.test", "AAAA")

    message = str(caught.value)
    assert "missing.example.test" in message
    assert "AAAA" in message
    assert resolver.server in message


# A scripted server for the faults the lab's server cannot produce

UdpScript = Callable[[bytes], list[bytes]]
TcpScript = Callable[[bytes], "bytes | None"]


class ScriptedDnsServer:
    """A DNS server on one loopback address whose replies come from test scripts.

    ``udp(query)`` returns the datagrams to send back, in order (none for a
    silent server). ``tcp(query)``, when given, returns the raw bytes to write
    on the connection (length prefix included) before closing it, or None to
    hold the connection open without a word until the server stops. Without
    ``tcp`` nothing listens on TCP. Queries are recorded in ``udp_queries``
    and ``tcp_queries``.
    """

    def __init__(self, udp: UdpScript, tcp: TcpScript | None = None) -> None:
        self.udp_script = udp
        self.tcp_script = tcp
        self.address = allocate_address()
        self.port = 0
        self.udp_queries: list[bytes] = []
        self.tcp_queries: list[bytes] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._wakeup = Wakeup()
        self._thread = threading.Thread(target=self._serve, name=f"scripted-dns-{self.address}", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> "ScriptedDnsServer":
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.address, 0))
        self.port = self._udp.getsockname()[1]
        if self.tcp_script is not None:
            # The address is fresh, so the TCP port of the same number is free
            # unless another test process was handed the same address.
            self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self._tcp.bind((self.address, self.port))
            except OSError:
                self._udp.close()
                self._tcp.close()
                raise
            self._tcp.listen(4)
        self._thread.start()
        return self

    @property
    def resolver_address(self) -> tuple[str, int]:
        return self.address, self.port

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        assert self._udp is not None
        selector.register(self._udp, selectors.EVENT_READ, "udp")
        if self._tcp is not None:
            selector.register(self._tcp, selectors.EVENT_READ, "tcp")
        self._wakeup.register(selector)
        try:
            while True:
                for key, _ in selector.select():
                    if key.data is self._wakeup:
                        return
                    if key.data == "udp":
                        self._answer_udp()
                    else:
                        self._answer_tcp()
        except BaseException as error:  # re-raised by __exit__
            self._error = error
        finally:
            selector.close()

    def _answer_udp(self) -> None:
        assert self._udp is not None
        query, peer = self._udp.recvfrom(65535)
        self.udp_queries.append(query)
        for datagram in self.udp_script(query):
            self._udp.sendto(datagram, peer)

    def _answer_tcp(self) -> None:
        assert self._tcp is not None and self.tcp_script is not None
        connection, _ = self._tcp.accept()
        connection.settimeout(timeouts.PEER_READ_TIMEOUT)
        length = struct.unpack("!H", _recv_exactly(connection, 2))[0]
        query = _recv_exactly(connection, length)
        self.tcp_queries.append(query)
        answer = self.tcp_script(query)
        if answer is None:
            self._held.append(connection)
            return
        with connection:
            connection.sendall(answer)

    def __exit__(self, *exc_info: object) -> None:
        self._wakeup.fire()
        self._thread.join(timeouts.SERVER_STOP_TIMEOUT)
        for sock in [self._udp, self._tcp, *self._held]:
            if sock is not None:
                sock.close()
        self._wakeup.close()
        if self._thread.is_alive():
            raise ServerError(f"scripted DNS server {self.address} did not stop")
        if self._error is not None:
            raise ServerError(f"scripted DNS server {self.address} failed: {self._error}") from self._error


def _recv_exactly(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise EOFError(f"the resolver closed after {len(data)} of {count} octets")
        data += chunk
    return data


def reply(query: bytes, *answers: dnslib.RR, rcode: int = 0, id_offset: int = 0, truncated: bool = False,
          question: bool = True) -> bytes:
    """Return a dnslib response to ``query`` with the answers, RCODE, ID change, TC bit and question given."""
    request = dnslib.DNSRecord.parse(query)
    response = request.reply()
    response.header.rcode = rcode
    response.header.id = (request.header.id + id_offset) % 65536
    response.header.tc = int(truncated)
    for answer in answers:
        response.add_answer(answer)
    if not question:
        response.questions = []
    return bytes(response.pack())


def a_record(name: str, address: str) -> dnslib.RR:
    return dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A(address), ttl=60)


def with_length(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def scripted(udp: UdpScript, tcp: TcpScript | None = None) -> ScriptedDnsServer:
    return ScriptedDnsServer(udp, tcp)


def test_answering_server_control():
    with scripted(lambda query: [reply(query, a_record("host.test", "127.0.0.7"))]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        assert resolver.addresses("host.test") == ["127.0.0.7"]


def test_silent_server_times_out_after_one_retransmission():
    with scripted(lambda query: []) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(LookupTimeout) as caught:
            resolver.addresses("host.test")

    assert caught.value.server == f"{server.address}:{server.port}"
    assert len(server.udp_queries) == 2
    assert server.udp_queries[0] == server.udp_queries[1]


def test_wrong_id_is_ignored_until_the_right_one():
    def wrong_then_right(query: bytes) -> list[bytes]:
        return [reply(query, a_record("host.test", "127.0.0.66"), id_offset=1),
                reply(query, a_record("host.test", "127.0.0.7"))]

    with scripted(wrong_then_right) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        assert resolver.addresses("host.test") == ["127.0.0.7"]


def test_answer_to_another_question_is_ignored():
    def other_then_right(query: bytes) -> list[bytes]:
        request = dnslib.DNSRecord.parse(query)
        other = dnslib.DNSRecord(dnslib.DNSHeader(id=request.header.id, qr=1, ra=1),
                                 q=dnslib.DNSQuestion("other.test", dnslib.QTYPE.A))
        other.add_answer(a_record("other.test", "127.0.0.66"))
        return [bytes(other.pack()), reply(query, a_record("host.test", "127.0.0.7"))]

    with scripted(other_then_right) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        assert resolver.addresses("host.test") == ["127.0.0.7"]


def test_only_wrong_ids_is_malformed_response():
    with scripted(lambda query: [reply(query, a_record("host.test", "127.0.0.66"), id_offset=1)]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


@pytest.mark.parametrize(("rcode", "label"), [(5, "REFUSED"), (2, "SERVFAIL"), (4, "NOTIMP")])
def test_error_rcode_is_server_failure(rcode, label):
    with scripted(lambda query: [reply(query, rcode=rcode)]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(ServerFailure) as caught:
            resolver.mx("example.test")

    assert caught.value.rcode == rcode
    assert caught.value.rcode_name == label
    assert caught.value.rtype == "MX"
    assert label in str(caught.value)


def test_error_without_question_is_server_failure():
    with scripted(lambda query: [reply(query, rcode=1, question=False)]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(ServerFailure) as caught:
            resolver.addresses("host.test")

    assert caught.value.rcode_name == "FORMERR"


def test_noerror_without_question_is_ignored():
    with scripted(lambda query: [reply(query, question=False)]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def test_garbage_datagrams_are_malformed_response():
    with scripted(lambda query: [b"\xff\xfe garbage, not DNS", b"\x00"]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def test_garbage_after_right_header_is_malformed_response():
    def header_then_garbage(query: bytes) -> list[bytes]:
        answer = reply(query, a_record("host.test", "127.0.0.7"))
        return [answer[:-3]]  # the A record's RDATA is cut short

    with scripted(header_then_garbage) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def pointer_loop_response(query: bytes) -> bytes:
    """Return a response whose answer's owner name is a label followed by a pointer back to that label."""
    header_and_question = reply(query)
    header = bytearray(header_and_question[:12])
    header[7] = 1  # ANCOUNT = 1
    owner_offset = len(header_and_question)
    looping_owner = b"\x01a" + struct.pack("!H", 0xC000 | owner_offset)
    record = looping_owner + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 7])
    return bytes(header) + header_and_question[12:] + record


def test_compression_pointer_loop_is_malformed_response():
    with scripted(lambda query: [pointer_loop_response(query)]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse) as caught:
            resolver.addresses("host.test")

    assert isinstance(caught.value.__cause__, WireFormatError)


def test_cname_chain_in_answer_is_followed():
    def alias_then_address(query: bytes) -> list[bytes]:
        return [reply(query,
                      dnslib.RR("HOST.test", dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("mid.test")),
                      dnslib.RR("mid.test", dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("real.test")),
                      a_record("unrelated.test", "127.0.0.66"),
                      a_record("REAL.test", "127.0.0.7"))]

    with scripted(alias_then_address) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        assert resolver.addresses("host.test") == ["127.0.0.7"]


def test_records_of_other_owners_are_not_answers():
    with scripted(lambda query: [reply(query, a_record("unrelated.test", "127.0.0.66"))]) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(NoRecords):
            resolver.addresses("host.test")


def test_cname_loop_is_malformed_response():
    def looping_aliases(query: bytes) -> list[bytes]:
        return [reply(query,
                      dnslib.RR("host.test", dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("mid.test")),
                      dnslib.RR("mid.test", dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("host.test")))]

    with scripted(looping_aliases) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def truncated_udp(query: bytes) -> list[bytes]:
    return [reply(query, truncated=True)]


def test_tcp_retry_control():
    def full_answer(query: bytes) -> bytes:
        return with_length(reply(query, a_record("host.test", "127.0.0.7")))

    with scripted(truncated_udp, full_answer) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        assert resolver.addresses("host.test") == ["127.0.0.7"]
        assert server.tcp_queries == server.udp_queries


def test_tcp_closed_mid_message_is_malformed_response():
    def cut_short(query: bytes) -> bytes:
        message = reply(query, a_record("host.test", "127.0.0.7"))
        return with_length(message)[:len(message) // 2]

    with scripted(truncated_udp, cut_short) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def test_tcp_silence_is_lookup_timeout():
    with scripted(truncated_udp, lambda query: None) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(LookupTimeout):
            resolver.addresses("host.test")


def test_truncated_tcp_answer_is_malformed_response():
    with scripted(truncated_udp, lambda query: with_length(reply(query, truncated=True))) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(MalformedResponse):
            resolver.addresses("host.test")


def test_no_tcp_listener_is_server_unreachable():
    with scripted(truncated_udp) as server:
        resolver = StubResolver(server.resolver_address, timeout=SHORT_TIMEOUT)

        with pytest.raises(ServerUnreachable):
            resolver.addresses("host.test")


def test_closed_udp_port_is_server_unreachable():
    # A port that was just free on a fresh address: the kernel answers the
    # datagram with ICMP port unreachable.
    address = allocate_address()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    resolver = StubResolver((address, port), timeout=SHORT_TIMEOUT)

    with pytest.raises(ServerUnreachable) as caught:
        resolver.addresses("host.test")

    assert caught.value.server == f"{address}:{port}"


# Input checks

@pytest.mark.parametrize("name", ["", ".", "a..test", ".a.test", "x" * 64 + ".test", "a." * 126 + "test",
                                  "bücher.test", "two words.test", "back\\slash.test"])
def test_invalid_name_is_configuration_error(resolver, name):
    with pytest.raises(ConfigurationError):
        resolver.addresses(name)


@pytest.mark.parametrize("name", ["x" * 63 + ".test", ("a" * 63 + ".") * 3 + "b" * 61, "_25._tcp.mx.test.", "a"])
def test_longest_valid_names_encode(name):
    text = name.rstrip(".")

    labels, end = read_name(encode_name(name), 0)

    assert len(text) <= 253
    assert b".".join(labels).decode() == text
    assert end == len(encode_name(name))


def test_unknown_address_type_is_configuration_error(resolver):
    with pytest.raises(ConfigurationError):
        resolver.addresses("mx1.example.test", "MX")


@pytest.mark.parametrize("address", ["mx1.example.test", "127.0.0.256", "", "::g"])
def test_ptr_of_non_address_is_configuration_error(resolver, address):
    with pytest.raises(ConfigurationError):
        resolver.ptr(address)


@pytest.mark.parametrize("nameserver", [("localhost", 53), ("127.0.0.1", 0), ("127.0.0.1", 65536),
                                        ("127.0.0.1", "53"), "127.0.0.1"])
def test_invalid_nameserver_is_configuration_error(nameserver):
    with pytest.raises(ConfigurationError):
        StubResolver(nameserver)


@pytest.mark.parametrize("timeout", [0, -1, "3", True])
def test_invalid_timeout_is_configuration_error(timeout):
    with pytest.raises(ConfigurationError):
        StubResolver(("127.0.0.1", 53), timeout=timeout)


def test_ipv6_server_is_bracketed():
    assert StubResolver(("::1", 5353)).server == "[::1]:5353"


def test_reverse_names():
    assert reverse_name("127.175.0.5") == "5.0.175.127.in-addr.arpa"
    # The example of RFC 3596 section 2.5.
    assert reverse_name("4321:0:1:2:3:4:567:89ab") == (
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa")
    assert reverse_name("fe80::1%eth0") == reverse_name("fe80::1")


@pytest.mark.parametrize("error", [
    NameNotFound("message", "host.test", "A", "127.0.0.1:53"),
    ServerFailure("message", "host.test", "MX", "127.0.0.1:53", 2),
])
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error)
    assert (str(copy), copy.name, copy.rtype, copy.server) == ("message", error.name, error.rtype, error.server)
    assert getattr(copy, "rcode", None) == getattr(error, "rcode", None)


def test_every_error_is_a_dns_lookup_error():
    for kind in (NameNotFound, NoRecords, ServerFailure, LookupTimeout, MalformedResponse, ServerUnreachable):
        assert issubclass(kind, DnsLookupError)


# resolv.conf

def test_from_system_takes_first_nameserver(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# generated\n; comment\nsearch example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n")

    resolver = StubResolver.from_system(timeout=1.5, path=str(conf))

    assert resolver.nameserver == ("192.0.2.53", 53)
    assert resolver.timeout == 1.5


def test_from_system_takes_ipv6_nameserver(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver\t2001:db8::53  # the lab's resolver\n")

    assert StubResolver.from_system(path=str(conf)).nameserver == ("2001:db8::53", 53)


def test_from_system_skips_comments_and_bad_values(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("#nameserver 192.0.2.1\n;nameserver 192.0.2.2\nnameservers 192.0.2.3\n"
                    " nameserver 192.0.2.4\nnameserver resolver.example.test\nnameserver\n"
                    "nameserver 192.0.2.5\n")

    assert StubResolver.from_system(path=str(conf)).nameserver == ("192.0.2.5", 53)


def test_from_system_keeps_ipv6_zone_index(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver fe80::53%eth0\n")

    assert StubResolver.from_system(path=str(conf)).nameserver == ("fe80::53%eth0", 53)


def test_from_system_without_nameserver_uses_loopback(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\noptions ndots:2\n")

    assert StubResolver.from_system(path=str(conf)).nameserver == ("127.0.0.1", 53)


def test_from_system_without_file_uses_loopback(tmp_path):
    resolver = StubResolver.from_system(path=str(tmp_path / "missing.conf"))

    assert resolver.nameserver == ("127.0.0.1", 53)
    assert resolver.timeout == timeouts.DNS_TIMEOUT


# The codec, cross-checked with dnslib

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=20)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(lambda labels: ".".join(labels) + ".test")
IPV4 = st.integers(min_value=0, max_value=2 ** 32 - 1).map(lambda value: str(ipaddress.IPv4Address(value)))
IPV6 = st.integers(min_value=0, max_value=2 ** 128 - 1).map(lambda value: str(ipaddress.IPv6Address(value)))
TTL = st.integers(min_value=0, max_value=2 ** 31 - 1)


@st.composite
def answer_records(draw: st.DrawFn, owners: list[str]) -> tuple[dnslib.RR, tuple[str, str, int, object]]:
    """Draw one dnslib record and the (owner, type, TTL, value) the resolver should read from it."""
    owner = draw(st.sampled_from(owners))
    ttl = draw(TTL)
    kind = draw(st.sampled_from(["A", "AAAA", "MX", "PTR", "CNAME"]))
    if kind == "A":
        value: object = draw(IPV4)
        rdata = dnslib.A(value)
    elif kind == "AAAA":
        value = draw(IPV6)
        rdata = dnslib.AAAA(value)
    elif kind == "MX":
        preference, exchange = draw(st.integers(min_value=0, max_value=65535)), draw(st.sampled_from(owners))
        value = (preference, exchange)
        rdata = dnslib.MX(exchange, preference)
    else:
        value = draw(st.sampled_from(owners))
        rdata = dnslib.PTR(value) if kind == "PTR" else dnslib.CNAME(value)
    return dnslib.RR(owner, getattr(dnslib.QTYPE, kind), rdata=rdata, ttl=ttl), (owner, kind, ttl, value)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str, int, object]]]:
    owners = draw(st.lists(NAME, min_size=1, max_size=4, unique_by=str.lower))
    message = dnslib.DNSRecord(dnslib.DNSHeader(id=draw(st.integers(0, 65535)), qr=1, ra=1),
                               q=dnslib.DNSQuestion(owners[0], dnslib.QTYPE.A))
    expected = []
    for record, fields in draw(st.lists(answer_records(owners), max_size=8)):
        message.add_answer(record)
        expected.append(fields)
    # Records in the other sections must be skipped, not returned.
    message.add_auth(dnslib.RR(owners[-1], dnslib.QTYPE.NS, rdata=dnslib.NS(owners[0])))
    message.add_ar(dnslib.RR(owners[0], dnslib.QTYPE.TXT, rdata=dnslib.TXT("v=spf1 -all")))
    return bytes(message.pack()), expected


def _as_text(kind: str, value: object) -> object:
    if kind == "CNAME" and isinstance(value, tuple):
        return b".".join(value).decode()  # the resolver keeps CNAME targets as labels
    if kind == "AAAA":
        return str(ipaddress.IPv6Address(value))  # type: ignore[arg-type]  # one text form for both sides
    return value


@settings(max_examples=80, deadline=None)
@given(responses())
def test_codec_reads_dnslib_responses(generated):
    wire, expected = generated
    types = {1: "A", 28: "AAAA", 15: "MX", 12: "PTR", 5: "CNAME"}

    response = parse_response(wire)

    read = [(b".".join(record.name).decode(), types[record.rtype], record.ttl,
             _as_text(types[record.rtype], record.value)) for record in response.answers]
    assert read == [(owner, kind, ttl, _as_text(kind, value)) for owner, kind, ttl, value in expected]


@settings(max_examples=80, deadline=None)
@given(NAME, st.sampled_from(["A", "AAAA", "MX", "PTR"]), st.integers(0, 65535), st.booleans())
def test_codec_queries_parse_in_dnslib(name, rtype, query_id, trailing_dot):
    query = build_query(query_id, encode_name(name + ("." if trailing_dot else "")), rtype)

    parsed = dnslib.DNSRecord.parse(query)

    assert str(parsed.q.qname) == name + "."
    assert dnslib.QTYPE[parsed.q.qtype] == rtype
    assert parsed.q.qclass == dnslib.CLASS.IN
    assert parsed.header.id == query_id
    assert (parsed.header.qr, parsed.header.rd, parsed.header.opcode) == (0, 1, 0)
    assert (len(parsed.rr), len(parsed.auth), len(parsed.ar)) == (0, 0, 0)  # no EDNS0 OPT record


@settings(max_examples=40, deadline=None)
@given(responses())
def test_codec_rejects_every_cut(generated):
    wire, _ = generated

    for end in range(len(wire)):
        with pytest.raises(WireFormatError):
            parse_response(wire[:end])


@settings(max_examples=20, deadline=None)
@given(responses(), st.binary(min_size=1, max_size=4))
def test_codec_rejects_octets_after_last_record(generated, extra):
    wire, _ = generated

    parse_response(wire)
    with pytest.raises(WireFormatError):
        parse_response(wire + extra)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=600), responses().flatmap(
    lambda generated: st.tuples(st.just(generated[0]), st.integers(0, len(generated[0]) - 1), st.integers(0, 255))
    .map(lambda change: change[0][:change[1]] + bytes([change[2]]) + change[0][change[1] + 1:]))))
def test_codec_raises_only_wire_format_error(message):
    try:
        parse_response(message)
    except WireFormatError:
        pass


def test_pointer_forward_is_rejected():
    message = b"\xc0\x02\x01a\x00"

    with pytest.raises(WireFormatError):
        read_name(message, 0)


def test_pointer_to_itself_is_rejected():
    message = b"\x00\x00\xc0\x02"

    with pytest.raises(WireFormatError):
        read_name(message, 2)


def test_pointer_backwards_is_followed():
    message = b"\x04test\x00\x02mx\xc0\x00"

    assert read_name(message, 6) == ((b"mx", b"test"), 11)
