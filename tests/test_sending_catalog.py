"""Sending scenario files: the sender keys load and validate, and MX keys are rejected beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import load_catalog, load_scenario
from harness.errors import ScenarioError
from harness.scenario import Direction
from harness.sender import PTR, Family, Listing, SenderStartTLS
from harness.tls import Version

from .conftest import write_scenario

GOOD = """
title = "t"
summary = "s"
direction = "sending"
[broken]
sender = { family = "ipv4", ptr = "missing", starttls = "used", sni = true, tls = { max_version = "TLSv1.2" } }
expect = { class = "smtp-rejected", reason = "ptr-missing", reply_code = 550, enhanced_status = "5.7.1" }
[fixed]
sender = { ptr = "forward-confirmed" }
expect = { class = "delivered" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
"""

SENDING_SLUGS = {"sender-no-starttls", "sender-tls10-only", "sender-no-shared-cipher", "ptr-missing",
                 "ptr-not-forward-confirmed", "ipv6-ptr-missing", "dnsbl-listed", "dnsbl-lookup-refused"}


def _write(tmp_path: Path, text: str) -> Path:
    return write_scenario(tmp_path, text, "dns")


def test_shipped_sending_scenarios_load():
    catalog = load_catalog()

    sending = {s.slug for s in catalog.scenarios if s.direction is Direction.SENDING}
    assert catalog.errors == []
    assert SENDING_SLUGS <= sending


def test_fixed_sender_inherits_and_overrides(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    assert scenario.broken.sender.ptr is PTR.MISSING
    assert scenario.fixed.sender.ptr is PTR.FORWARD_CONFIRMED
    assert scenario.fixed.sender.tls.max_version is Version.TLS1_2  # inherited from broken
    assert scenario.fixed.sender.family is Family.IPV4
    assert scenario.broken.sender.dnsbl is Listing.NOT_LISTED
    assert scenario.broken.sender.starttls is SenderStartTLS.USED
    assert scenario.broken.expect.enhanced_status == "5.7.1"


BAD = [
    # (change to GOOD, dotted key named in the error, a fragment of the advice)
    (('ptr = "missing"', 'ptr = "absent"'), "broken.sender.ptr", "not-forward-confirmed"),
    (('family = "ipv4"', 'family = "v6"'), "broken.sender.family", "ipv6"),
    (('starttls = "used"', 'starttls = "sometimes"'), "broken.sender.starttls", "never"),
    (("sni = true", 'sni = "yes"'), "broken.sender.sni", "true or false"),
    (("sni = true", "snii = true"), "broken.sender.snii", "accepted keys here"),
    (('max_version = "TLSv1.2"', 'max_version = "TLSv2"'), "broken.sender.tls.max_version", "TLSv1.3"),
    (('max_version = "TLSv1.2"', 'engine = "tlslite"'), "broken.sender.tls.engine", "accepted keys here"),
    (('enhanced_status = "5.7.1"', 'enhanced_status = "5.7"'), "broken.expect.enhanced_status", "RFC 3463"),
    (("[broken]", '[broken]\ncertificate = { issuer = "self" }'), "broken.certificate", "cannot be combined"),
    (("[fixed]", '[fixed]\nstarttls = "refused"'), "fixed.starttls", "cannot be combined with fixed.sender"),
    (('direction = "sending"', 'direction = "receiving"'), "broken.sender", "sending scenarios only"),
    (("sender = { family", "# sender = { family"), "fixed.sender", "describe the sending host in [broken]"),
]


@pytest.mark.parametrize("change, key, advice", BAD, ids=[case[1] for case in BAD])
def test_bad_sender_value_names_key(tmp_path, change, key, advice):
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem
