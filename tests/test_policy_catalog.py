"""The scenario keys for policies (mta_sts, dane, client.require_dane, expect.reported) and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import load_catalog, load_scenario
from harness.dane import DnssecStatus, TlsaSource
from harness.errors import ScenarioError
from harness.mtasts import Fetch
from harness.pki import Issuer, KeyKind

from .conftest import write_scenario

GOOD = """
title = "t"
summary = "s"
[broken]
client = { profile = "policy", require_dane = false }
mta_sts = { mode = "enforce", mx = ["{mx}"], max_age = 86400, fetch = "ok", certificate = { issuer = "self" } }
dane = { dnssec = "secure", tlsa = [{ usage = 3, selector = 1, matching = 1, key = "ecdsa-p256" }] }
expect = { class = "tlsa-invalid", reported = "tlsa-invalid" }
[fixed]
dane = { tlsa = [{ usage = 2, selector = 0, matching = 2, of = "intermediate" }] }
expect = { class = "delivered", reported = "success" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
"""


def _write(tmp_path: Path, text: str) -> Path:
    return write_scenario(tmp_path, text, "policy")


def test_policy_keys_load(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    sts = scenario.broken.mta_sts
    assert (sts.mode, sts.mx, sts.max_age, sts.fetch) == ("enforce", ("{mx}",), 86400, Fetch.OK)
    assert sts.certificate.issuer is Issuer.SELF
    assert sts.certificate.names == ("mta-sts.{domain}",)  # the policy host's own name by default
    assert scenario.broken.dane.tlsa[0].key is KeyKind.ECDSA_P256
    assert scenario.fixed.dane.tlsa[0].of is TlsaSource.INTERMEDIATE
    assert scenario.fixed.dane.dnssec is DnssecStatus.SECURE  # inherited from broken
    assert scenario.broken.expect.reported == "tlsa-invalid"


def test_shipped_policy_group_has_every_result_type():
    catalog = load_catalog()
    policy = [s for s in catalog.scenarios if s.group == "policy"]

    reported = {s.broken.expect.reported for s in policy}
    assert reported == {
        "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
        "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
        "sts-policy-invalid", "sts-webpki-invalid",
    }
    assert all(s.slug.startswith(("sts-", "dane-")) for s in policy)
    assert all(s.fixed.expect.reported == "success" for s in policy)


BAD = [
    (('mode = "enforce"', 'mode = "enforcing"'), "broken.mta_sts.mode", "use one of enforce, testing, none"),
    (("max_age = 86400", "max_age = 40000000"), "broken.mta_sts.max_age", "expected an integer from 0"),
    (('fetch = "ok"', 'fetch = "404"'), "broken.mta_sts.fetch", "use one of ok, not-found"),
    (('dnssec = "secure"', 'dnssec = "signed"'), "broken.dane.dnssec", "use one of secure, insecure, bogus"),
    (('usage = 3, selector = 1, matching = 1, key', 'usage = 3, selector = 0, matching = 1, key'),
     "broken.dane.tlsa[0].key", "use selector = 1"),
    (('key = "ecdsa-p256"', 'key = "ecdsa-p256", of = "leaf"'), "broken.dane.tlsa[0]", "give one of of, key or data"),
    (('of = "intermediate"', 'data = "zz"'), "fixed.dane.tlsa[0].data", "not hexadecimal"),
    (('usage = 3,', 'usage = 300,'), "broken.dane.tlsa[0].usage", "expected an integer from 0 to 255"),
    (('reported = "tlsa-invalid"', 'reported = "expired"'), "broken.expect.reported", "use success or"),
    (("require_dane = false", 'require_dane = "yes"'), "broken.client.require_dane", "expected true or false"),
    (('fetch = "ok",', 'fetch = "ok", colour = 1,'), "broken.mta_sts.colour", "accepted keys here"),
]


@pytest.mark.parametrize("change, key, advice", BAD, ids=[case[1] for case in BAD])
def test_bad_policy_key_error_names_key_and_fix(tmp_path, change, key, advice):
    assert change[0] in GOOD
    path = _write(tmp_path, GOOD.replace(*change, 1))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem
