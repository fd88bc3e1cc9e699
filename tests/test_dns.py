"""The fake DNS server answers from its zone over UDP and TCP, on loopback only."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest

from harness.dns import DnsServer, Record, RecordTemplate, Zone, reverse_name
from harness.errors import ConfigurationError


@pytest.fixture
def server():
    zone = Zone([
        Record("example.test", "MX", "10 mx.example.test"),
        Record("mx.example.test", "A", "127.0.0.9"),
        Record(reverse_name("127.0.0.9"), "PTR", "mx.example.test"),
        Record("example.test", "TXT", "v=spf1 -all"),
    ])
    with DnsServer(zone) as running:
        yield running


def _query(server, name: str, rtype: str, tcp: bool = False) -> dns.message.Message:
    request = dns.message.make_query(name, rtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(request, server.address, port=server.port, timeout=3)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_answers_mx_authoritatively(server, tcp):
    response = _query(server, "example.test", "MX", tcp=tcp)

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [rr.to_text() for rr in response.answer[0]] == ["10 mx.example.test."]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_answers_ptr(server, tcp):
    response = _query(server, "9.0.0.127.in-addr.arpa", "PTR", tcp=tcp)

    assert [rr.to_text() for rr in response.answer[0]] == ["mx.example.test."]


def test_unknown_name_is_nxdomain(server):
    assert _query(server, "missing.example.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_known_name_without_type_is_nodata(server):
    response = _query(server, "mx.example.test", "TXT")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


def test_resolver_reads_txt(server):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.address]
    resolver.port = server.port

    answer = resolver.resolve("example.test", "TXT")

    assert [b"".join(rr.strings) for rr in answer] == [b"v=spf1 -all"]


def test_zone_change_is_served_at_once(server):
    record = Record("new.example.test", "A", "127.0.0.10")
    server.zone.add([record])
    assert _query(server, "new.example.test", "A").rcode() == dns.rcode.NOERROR

    server.zone.remove([record])
    assert _query(server, "new.example.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_server_binds_loopback_only(server):
    assert server.address.startswith("127.")
    assert server._udp.getsockname()[0] == server.address
    assert server._tcp.getsockname()[0] == server.address


def test_non_loopback_address_is_rejected():
    with pytest.raises(ConfigurationError):
        DnsServer(Zone(), address="192.0.2.1")


@pytest.mark.parametrize("rtype, value", [("A", "not-an-address"), ("MX", "mx.example.test"), ("TLSA", "3 1 1 zz")])
def test_invalid_record_value_names_record(rtype, value):
    with pytest.raises(ConfigurationError) as caught:
        Record("bad.example.test", rtype, value)

    assert "bad.example.test" in str(caught.value)


def test_unsupported_record_type_is_rejected():
    with pytest.raises(ConfigurationError):
        RecordTemplate("{domain}", "SRV", "0 0 25 mx")


def test_template_fills_placeholders():
    record = RecordTemplate("{domain}", "TXT", "mx={mx} ip={mx_address}").fill(
        domain="a.test", mx="mx.a.test", mx_address="127.0.0.5")

    assert record == Record("a.test", "TXT", "mx=mx.a.test ip=127.0.0.5")
