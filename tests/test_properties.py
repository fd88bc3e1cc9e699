"""Property-based tests: no input makes the parsers fail with anything but the harness's own errors.

Three parsers read what other parties write: the SMTP reply parser reads
peers, the scenario loader reads users' files and the DNS zone reads
queries off the wire and records from scenario files. Each must return a
result or raise a HarnessError subclass (which the command line prints as
one line), never a bare ValueError, KeyError or a dnslib error. Example
counts stay small so the default run stays fast; the derandomized profile
makes a failure reproduce on every run.
"""

from __future__ import annotations

import copy
import datetime
import socket
import tomllib
from pathlib import Path
from typing import Any

import dnslib
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.catalog import load_scenario
from harness.dns import RECORD_TYPES, Record, RecordTemplate, Zone
from harness.errors import ConfigurationError, HarnessError, ScenarioError
from harness.outcome import Reply
from harness.smtpwire import SMTPProtocolError, Wire, parse_reply_line

FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# SMTP reply parser

reply_code = st.integers(200, 599)
reply_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@FAST
@given(st.binary(max_size=300))
def test_reply_line_parser_accepts_or_raises_protocol_error(line):
    try:
        code, last, text = parse_reply_line(line)
    except SMTPProtocolError as error:
        assert error.reason == "malformed-reply"
        return

    assert 200 <= code <= 599
    assert isinstance(last, bool)
    assert isinstance(text, str)


@FAST
@given(reply_code, st.sampled_from([" ", "-"]), reply_text)
def test_reply_line_parser_reads_valid_lines(code, separator, text):
    parsed = parse_reply_line(f"{code}{separator}{text}".encode())

    assert parsed == (code, separator == " ", text)


def _read_reply(data: bytes) -> Reply:
    """Feed ``data`` to a client Wire through a socket pair, then close the sending side."""
    reader, writer = socket.socketpair()
    with reader, writer:
        writer.sendall(data)
        writer.close()
        return Wire(reader, reply_timeout=1.0).read_reply("a reply")


@FAST
@given(st.lists(st.one_of(
    st.binary(max_size=40),
    st.builds(lambda c, s, t: f"{c}{s}{t}\r\n".encode(), reply_code, st.sampled_from([" ", "-", ""]), reply_text),
), max_size=12).map(b"".join))
def test_wire_reads_a_reply_or_raises_harness_error(data):
    try:
        reply = _read_reply(data)
    except HarnessError:
        return

    assert 200 <= reply.code <= 599
    assert reply.lines


# Scenario loader

GOOD: dict[str, Any] = tomllib.loads("""
title = "t"
summary = "s"
direction = "receiving"
requires = []
[broken]
certificate = { issuer = "self", names = ["{mx}"], not_before_days = -1, not_after_days = 1, chain = "full" }
tls = { min_version = "TLSv1.2", max_version = "TLSv1.3", ciphers = "DEFAULT", security_level = 1 }
starttls = "offered"
client = { profile = "strict" }
dns = { records = [ { name = "{domain}", type = "TXT", value = "v=spf1 -all", ttl = 60 } ] }
sni_certificates = { "other.test" = { issuer = "public" } }
expect = { class = "certificate-not-trusted", reason = "self-signed", verify_code = 18, stage = "certificate" }
[fixed]
certificate = { issuer = "public" }
expect = { class = "delivered" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
sources = ["d"]
""")

toml_scalars = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["self", "public", "TLSv1", "TLSv9", "delivered", "{mx}", "", "*.{domain}", "a" * 300]),
    st.integers(-(2 ** 63), 2 ** 63 - 1),
    st.booleans(),
    st.floats(allow_nan=True),
    st.dates(),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside the document, tables and lists included."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, prefix + (index,))
    return found


PATHS = _paths(GOOD)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """GOOD with one to three changes: a value replaced, a key removed or an unknown key added."""
    document = copy.deepcopy(GOOD)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            action = draw(st.sampled_from(["replace", "remove", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(toml_values)
            elif action == "remove":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(toml_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
    return document


def _load(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "certificate" / "case.toml"
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    try:
        load_scenario(path, group="certificate")
    except ScenarioError as error:
        assert error.path == path
        assert str(error).startswith(str(path))


def test_good_document_loads(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(tomli_w.dumps(GOOD))

    scenario = load_scenario(path)

    assert scenario.fixed.certificate.issuer.value == "public"


@FAST
@given(mutated_documents())
def test_loader_accepts_or_names_the_file_for_mutated_documents(tmp_path, document):
    _load(tmp_path, tomli_w.dumps(document))


@FAST
@given(st.dictionaries(st.sampled_from(sorted(GOOD)) | st.text(max_size=8), toml_values, max_size=7))
def test_loader_accepts_or_names_the_file_for_random_documents(tmp_path, document):
    _load(tmp_path, tomli_w.dumps(document))


@FAST
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_loader_accepts_or_names_the_file_for_random_text(tmp_path, text):
    _load(tmp_path, text)


# DNS zone model

dns_labels = st.text(st.characters(codec="ascii"), min_size=1, max_size=70)
dns_names = st.lists(dns_labels, min_size=1, max_size=4).map(".".join) | st.text(max_size=80)
record_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["127.0.0.1", "::1", "10 mx.example.test", "3 1 1 00ff", "mx.example.test", "-1 x", "x" * 300]),
)


@FAST
@given(dns_names, st.sampled_from(RECORD_TYPES) | st.text(max_size=6), record_values, st.integers(-5, 2 ** 32))
def test_record_is_valid_or_raises_configuration_error(name, rtype, value, ttl):
    try:
        record = Record(name, rtype, value, ttl)
    except ConfigurationError:
        return

    # A record the zone accepted must also be answerable on the wire.
    query = dnslib.DNSRecord.question("probe.test", "A")
    query.q.qname = dnslib.DNSLabel(record.name)
    query.q.qtype = getattr(dnslib.QTYPE, record.rtype)
    response = dnslib.DNSRecord.parse(Zone([record]).answer(query.pack()))
    assert response.header.rcode == dnslib.RCODE.NOERROR
    assert len(response.rr) == 1


@FAST
@given(dns_names, st.sampled_from(RECORD_TYPES) | st.text(max_size=6), record_values)
def test_record_template_is_valid_or_raises_configuration_error(name, rtype, value):
    try:
        RecordTemplate(name, rtype, value)
    except ConfigurationError:
        pass


ZONE = Zone([
    Record("example.test", "MX", "10 mx.example.test"),
    Record("mx.example.test", "A", "127.0.0.9"),
    Record("alias.example.test", "CNAME", "mx.example.test"),
    Record("example.test", "TXT", "v=spf1 -all"),
])


@FAST
@given(st.binary(max_size=120))
def test_zone_answers_or_raises_harness_error_for_random_bytes(query):
    try:
        response = ZONE.answer(query)
    except HarnessError:
        return

    assert dnslib.DNSRecord.parse(response).header.qr == 1


@FAST
@given(dns_names, st.integers(0, 65535))
def test_zone_answers_every_well_formed_question(name, qtype):
    try:
        label = dnslib.DNSLabel(name)
        query = dnslib.DNSRecord(q=dnslib.DNSQuestion(label, qtype)).pack()
    except (dnslib.DNSError, UnicodeError, ValueError):
        return  # dnslib cannot even build this query; a real resolver would not send it

    response = dnslib.DNSRecord.parse(ZONE.answer(query))

    assert response.header.rcode in (dnslib.RCODE.NOERROR, dnslib.RCODE.NXDOMAIN)
