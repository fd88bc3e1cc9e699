"""Scenario keys for the sender's TLS mode, timeouts, MX limit, second MX and expected trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import load_scenario
from harness.client import TLSMode
from harness.errors import ScenarioError
from harness.outcome import Trust
from harness.smtpserver import StartTLS

from .conftest import write_scenario

GOOD = """
title = "t"
summary = "s"
[broken]
starttls = "implicit-tls"
client = { tls = "starttls", reply_timeout = 0.3, handshake_timeout = 0.2, mx_limit = 1 }
second_mx = { preference = 5, certificate = { names = ["other.test"] } }
expect = { class = "protocol-error", reason = "reply-timeout" }
[fixed]
client = { tls = "implicit" }
expect = { class = "delivered", trust = "verified" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
"""


def _write(tmp_path: Path, text: str) -> Path:
    return write_scenario(tmp_path, text, "starttls")


def test_client_keys_parse(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    settings = scenario.broken.client
    assert scenario.broken.starttls is StartTLS.IMPLICIT_TLS
    assert settings.tls_mode is TLSMode.STARTTLS
    assert settings.reply_timeout == 0.3
    assert settings.handshake_timeout == 0.2
    assert settings.mx_limit == 1


def test_fixed_variant_merges_client_keys(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    settings = scenario.fixed.client
    assert settings.tls_mode is TLSMode.IMPLICIT
    assert settings.reply_timeout == 0.3
    assert scenario.fixed.expect.trust is Trust.VERIFIED


def test_second_mx_parses(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD))

    second = scenario.broken.second_mx
    assert second is not None
    assert second.preference == 5
    assert second.certificate.names == ("other.test",)


BAD = [
    # (change to GOOD, dotted key named in the error, a fragment of the advice)
    (('tls = "starttls"', 'tls = "smtps"'), "broken.client.tls", "use one of starttls, implicit"),
    (("reply_timeout = 0.3", "reply_timeout = 60"), "broken.client.reply_timeout",
     "expected seconds from 0.05 to 5"),
    (("reply_timeout = 0.3", 'reply_timeout = "fast"'), "broken.client.reply_timeout", "expected seconds"),
    (("handshake_timeout = 0.2", "handshake_timeout = 0"), "broken.client.handshake_timeout",
     "expected seconds from 0.05"),
    (("handshake_timeout = 0.2", "handshake_timeout = true"), "broken.client.handshake_timeout",
     "expected seconds"),
    (("mx_limit = 1", "mx_limit = 0"), "broken.client.mx_limit", "expected an integer from 1 to 10"),
    (("mx_limit = 1", "mx_limit = 1, retries = 3"), "broken.client.retries", "accepted keys here"),
    (('starttls = "implicit-tls"', 'starttls = "smtps"'), "broken.starttls", "injection, implicit-tls"),
    (("preference = 5, ", ""), "broken.second_mx.preference", "required"),
    (("preference = 5", "preference = -1"), "broken.second_mx.preference", "expected an integer from 0"),
    (("preference = 5", "preference = 5, weight = 1"), "broken.second_mx.weight", "accepted keys here"),
    (('names = ["other.test"]', 'names = "other.test"'), "broken.second_mx.certificate.names",
     "expected a list of strings"),
    (('trust = "verified"', 'trust = "trusted-ish"'), "fixed.expect.trust", "use one of none, anonymous"),
]


@pytest.mark.parametrize("change, key, advice", BAD, ids=[case[1] for case in BAD])
def test_bad_client_key_names_file_key_and_fix(tmp_path, change, key, advice):
    path = _write(tmp_path, GOOD.replace(*change, 1))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem
