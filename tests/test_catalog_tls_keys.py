"""The scenario keys for TLS engines and DH groups: accepted values load, bad ones name file, key and fix."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.catalog import load_scenario
from harness.errors import ScenarioError
from harness.tls import Engine, Version, dh_group_file

from .test_catalog import GOOD, _write

TLSLITE = '[broken]\ntls = { engine = "tlslite", min_version = "SSLv3", max_version = "SSLv3", ciphers = "rc4" }'

BAD = [
    # (replacement for "[broken]", dotted key named in the error, a fragment of the advice)
    ('[broken]\ntls = { engine = "gnutls" }', "broken.tls.engine", "use one of openssl, tlslite"),
    ('[broken]\ntls = { dh_group = "oakley1" }', "broken.tls.dh_group", "use one of rfc2409-group2, ffdhe2048"),
    ('[broken]\ntls = { min_version = "SSLv3" }', "broken.tls", "engine = \"tlslite\""),
    ('[broken]\ntls = { engine = "tlslite", ciphers = "RC4-SHA" }', "broken.tls", "tlslite-ng knows no cipher"),
    ('[broken]\ntls = { engine = "tlslite", security_level = 0 }', "broken.tls", "OpenSSL setting"),
    ('[broken]\ntls = { engine = "tlslite", dh_group = "ffdhe2048" }', "broken.tls", "openssl\" only"),
    (TLSLITE + '\nstarttls = "refused"', "broken.starttls", "only \"offered\""),
    (TLSLITE + '\nsni_certificates = { "a.test" = {} }', "broken.sni_certificates", "not supported"),
]


@pytest.mark.parametrize("broken, key, advice", BAD, ids=[f"{case[1]}-{i}" for i, case in enumerate(BAD)])
def test_bad_tls_key_names_file_key_and_fix(tmp_path, broken, key, advice):
    path = _write(tmp_path, GOOD.replace("[broken]", broken, 1))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem


def test_tlslite_engine_loads_and_fixed_inherits(tmp_path):
    scenario = load_scenario(_write(tmp_path, GOOD.replace("[broken]", TLSLITE, 1)))

    assert scenario.broken.tls.engine is Engine.TLSLITE
    assert scenario.broken.tls.min_version is Version.SSL3
    assert scenario.fixed.tls.engine is Engine.TLSLITE


def _prime(pem: Path) -> int:
    """Read p from PKCS #3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }.

    Parsed by hand because cryptography deprecates its finite-field DH API.
    """
    body = "".join(line for line in pem.read_text().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    offset = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # skip the SEQUENCE header
    assert der[offset] == 0x02, "expected an INTEGER"
    length_byte = der[offset + 1]
    if length_byte & 0x80:
        count = length_byte & 0x7F
        length = int.from_bytes(der[offset + 2:offset + 2 + count], "big")
        start = offset + 2 + count
    else:
        length, start = length_byte, offset + 2
    return int.from_bytes(der[start:start + length], "big")


def test_shipped_dh_groups_are_the_published_primes():
    # RFC 2409 section 6.2: p = 2^1024 - 2^960 - 1 + 2^64 * (floor(2^894 pi) + 129093).
    oakley2 = _prime(dh_group_file("rfc2409-group2"))
    # RFC 7919 appendix A.1 gives ffdhe2048's first and last 64 bits.
    ffdhe2048 = _prime(dh_group_file("ffdhe2048"))

    assert oakley2.bit_length() == 1024
    assert f"{oakley2:x}".startswith("ffffffffffffffffc90fdaa22168c234")
    assert f"{oakley2:x}".endswith("ece65381ffffffffffffffff")
    assert ffdhe2048.bit_length() == 2048
    assert f"{ffdhe2048:x}".startswith("ffffffffffffffffadf85458a2bb4a9a")
    assert f"{ffdhe2048:x}".endswith("886b423861285c97ffffffffffffffff")
