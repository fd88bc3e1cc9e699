"""Scenario files: the shipped catalog loads, and every bad file gets an error naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import load_catalog, load_scenario
from harness.errors import ScenarioError, UnknownScenarioError
from harness.outcome import FailureClass
from harness.pki import Issuer

from .conftest import write_scenario

GOOD = """
title = "t"
summary = "s"
[broken]
certificate = { issuer = "self" }
expect = { class = "certificate-not-trusted", reason = "self-signed", verify_code = 18 }
[fixed]
certificate = { issuer = "public" }
expect = { class = "delivered" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
"""


def _write(tmp_path: Path, text: str, name: str = "case.toml") -> Path:
    return write_scenario(tmp_path, text, "certificate", name)


def test_shipped_catalog_loads_without_errors():
    catalog = load_catalog()

    assert catalog.errors == []
    assert {"self-signed", "tls10-only", "no-sni", "revoked"} <= set(catalog.slugs)


def test_fixed_variant_inherits_broken_settings(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD.replace('certificate = { issuer = "public" }\n', "")))

    assert scenario.fixed.certificate.issuer is Issuer.SELF
    assert scenario.fixed.expect.failure_class is FailureClass.DELIVERED


def test_fixed_variant_overrides_one_key(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    assert scenario.broken.certificate.issuer is Issuer.SELF
    assert scenario.fixed.certificate.issuer is Issuer.PUBLIC


BAD = [
    # (change to GOOD, dotted key named in the error, a fragment of the advice)
    (("[broken]", "[broken]\ncertifcate = {}"), "broken.certifcate", "accepted keys here"),
    (('issuer = "self"', 'issuer = "selff"'), "broken.certificate.issuer", "use one of public, untrusted, self"),
    (('class = "delivered"', 'class = "ok"'), "fixed.expect.class", "use one of delivered"),
    (("verify_code = 18", 'verify_code = "18"'), "broken.expect.verify_code", "expected an integer"),
    (('title = "t"\n', ""), "title", "required"),
    (('[fixed]\ncertificate = { issuer = "public" }\nexpect = { class = "delivered" }',
      '[fixed]\ncertificate = { issuer = "public" }'), "fixed.expect", "missing"),
    (("[broken]", '[broken]\ntls = { min_version = "TLSv1.3", max_version = "TLSv1.2" }'), "broken.tls",
     "above max_version"),
    (("[broken]", '[broken]\ndns = { records = [ { name = "{domain}", type = "A", value = "x" } ] }'),
     "broken.dns.records[0]", "invalid value"),
    (("[broken]", '[broken]\nclient = { profile = "lenient" }'), "broken.client.profile", "strict"),
    (('issuer = "self"', 'issuer = "self", names = ["mail server.test"]'), "broken.certificate.names",
     "use DNS names"),
    (('issuer = "self"', 'issuer = "self", common_name = ""'), "broken.certificate.common_name", "1 to 64"),
    (("[broken]", '[broken]\ntls = { ciphers = "RC4-MD5" }'), "broken.tls.ciphers", "openssl ciphers -v"),
    (("verify_code = 18", 'verify_code = 18, alert = "protocol-version"'), "broken.expect.alert",
     "protocol_version"),
    (("[broken]", '[broken]\ndns = { records = [ { name = "{domain}", type = "A", value = "127.0.0.1", ttl = -1 } ] }'),
     "broken.dns.records[0]", "ttl must be"),
    (("[broken]", '[broken]\ndns = { records = [ { name = 5, type = "A", value = "127.0.0.1" } ] }'),
     "broken.dns.records[0].name", "expected a string"),
    (('certificate = { issuer = "self" }', "certificate = true"), "broken.certificate", "or false"),
    (("[broken]", "[broken]\ncertificat = {}"), "broken.certificat", "did you mean 'certificate'?"),
]


@pytest.mark.parametrize("change, key, advice", BAD, ids=[case[1] for case in BAD])
def test_bad_file_error_names_file_key_and_fix(tmp_path, change, key, advice):
    path = _write(tmp_path, GOOD.replace(*change, 1))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem


def test_invalid_toml_names_file(tmp_path):
    path = _write(tmp_path, "title = ")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert "not valid TOML" in caught.value.problem


def test_catalog_with_one_bad_file_loads_the_rest(tmp_path):
    _write(tmp_path, GOOD, "good.toml")
    bad = _write(tmp_path, GOOD.replace("[lesson]", "[lesson]\ncolour = 1"), "bad.toml")

    catalog = load_catalog(tmp_path)

    assert catalog.slugs == ["good"]
    assert [error.path for error in catalog.errors] == [bad]


def test_unknown_slug_lists_known_ones():
    with pytest.raises(UnknownScenarioError) as caught:
        load_catalog().get("self-sigend")

    assert "self-signed" in str(caught.value)


def test_file_that_is_not_utf8_names_file(tmp_path):
    path = _write(tmp_path, "")
    path.write_bytes(GOOD.replace('"t"', '"caf\xe9"').encode("latin-1"))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert "scenario files are UTF-8 text" in caught.value.problem


def test_invalid_file_slug_reports_its_error(tmp_path):
    bad = _write(tmp_path, GOOD.replace('issuer = "self"', 'issuer = "selff"'), "typo.toml")
    catalog = load_catalog(tmp_path)

    with pytest.raises(ScenarioError) as caught:
        catalog.get("typo")

    assert caught.value.path == bad
