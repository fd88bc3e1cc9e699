"""The parts behind the certificate scenarios: SHA-1 re-signing, the OCSP responder and client, scenario keys."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from harness.catalog import load_scenario
from harness.errors import ScenarioError
from harness.pki import CertificateSpec, Issuer, KeyKind, RevocationSource, SignatureHash, SimulatedPKI
from harness.revocation import build_ocsp_response, crl_urls, ocsp_urls

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
DER = Encoding.DER


@pytest.fixture
def pki():
    with SimulatedPKI("http://127.0.0.1:1", now=NOW, unreachable_url="http://127.0.0.2:1") as running:
        yield running


def test_sha1_leaf_verifies_with_issuer(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), issuer=Issuer.PUBLIC_RSA,
                                     signature=SignatureHash.SHA1)).certificate
    issuer_key = pki.rsa_intermediate.certificate.public_key()

    assert leaf.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA1
    issuer_key.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())


def test_sha1_leaf_keeps_fields(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), issuer=Issuer.PUBLIC_RSA,
                                     signature=SignatureHash.SHA1)).certificate

    assert leaf.issuer == pki.rsa_intermediate.certificate.subject
    assert leaf.not_valid_after_utc == NOW + datetime.timedelta(days=45)
    assert crl_urls(leaf) == ["http://127.0.0.1:1/crl/public-rsa-intermediate.crl"]


def test_self_signed_rsa_leaf_can_be_sha1(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), issuer=Issuer.SELF, signature=SignatureHash.SHA1)).certificate

    leaf.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())


def test_revocation_source_sets_the_leaf_pointer(pki):
    by_ocsp = pki.issue(CertificateSpec(names=("a.test",), revocation=RevocationSource.OCSP)).certificate
    unreachable = pki.issue(CertificateSpec(names=("b.test",),
                                            revocation=RevocationSource.CRL_UNREACHABLE)).certificate

    assert ocsp_urls(by_ocsp) == ["http://127.0.0.1:1/ocsp/public-intermediate"]
    assert crl_urls(by_ocsp) == []
    assert crl_urls(unreachable) == ["http://127.0.0.2:1/crl/public-intermediate.crl"]


def test_rsa1024_leaves_share_one_key(pki):
    first = pki.issue(CertificateSpec(names=("a.test",), key=KeyKind.RSA1024))
    second = pki.issue(CertificateSpec(names=("b.test",), key=KeyKind.RSA1024))

    assert first.keyfile == second.keyfile
    assert first.certificate.public_key().key_size == 1024


def _ocsp_request(pki, leaf: x509.Certificate) -> bytes:  # type: ignore[no-untyped-def]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, pki.intermediate.certificate, hashes.SHA1()).build()
    return request.public_bytes(DER)


@pytest.mark.parametrize("revoked, status", [(True, ocsp.OCSPCertStatus.REVOKED), (False, ocsp.OCSPCertStatus.GOOD)])
def test_ocsp_responder_answers_per_serial(pki, revoked, status):
    leaf = pki.issue(CertificateSpec(names=("a.test",), revocation=RevocationSource.OCSP, revoked=revoked)).certificate

    response = ocsp.load_der_ocsp_response(pki.ocsp_response_der("public-intermediate", _ocsp_request(pki, leaf)))

    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == leaf.serial_number
    assert response.certificate_status is status
    assert response.this_update_utc == NOW - datetime.timedelta(hours=1)


def test_ocsp_responder_rejects_another_issuers_certificate(pki):
    leaf = pki.issue(CertificateSpec(names=("a.test",), revocation=RevocationSource.OCSP)).certificate
    request = _ocsp_request(pki, leaf)

    answer = build_ocsp_response(request, pki.untrusted_root.certificate, pki.untrusted_root.key, set(), NOW)

    assert ocsp.load_der_ocsp_response(answer).response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_ocsp_responder_answers_garbage_with_malformed_request(pki):
    answer = pki.ocsp_response_der("public-intermediate", b"not DER")

    assert ocsp.load_der_ocsp_response(answer).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_ocsp_responder_ignores_unknown_issuer(pki):
    assert pki.ocsp_response_der("no-such-ca", b"") is None


SCENARIO = """
title = "t"
summary = "s"
[broken]
certificate = { CERT }
expect = { class = "validation-failure" }
[fixed]
expect = { class = "delivered" }
[lesson]
symptoms = "a"
cause = "b"
fix = "c"
"""

BAD_KEYS = [
    ('signature = "sha1"', "broken.certificate.signature", "use issuer public-rsa"),
    ('signature = "md5"', "broken.certificate.signature", "use one of sha256, sha1"),
    ('issuer = "untrusted", signature = "sha1"', "broken.certificate.signature", "use issuer public-rsa"),
    ('revocation = "ldap"', "broken.certificate.revocation", "use one of crl, ocsp, crl-unreachable"),
    ('issuer = "public-ca"', "broken.certificate.issuer", "public-rsa"),
]


@pytest.mark.parametrize("cert, key, advice", BAD_KEYS, ids=[case[0] for case in BAD_KEYS])
def test_bad_certificate_key_names_file_key_and_fix(tmp_path: Path, cert, key, advice):
    path = tmp_path / "case.toml"
    path.write_text(SCENARIO.replace("CERT", cert))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.path == path
    assert caught.value.key == key
    assert advice in caught.value.problem


@pytest.mark.parametrize("cert", ['issuer = "public-rsa", signature = "sha1"',
                                  'issuer = "self", key = "rsa2048", signature = "sha1"',
                                  'revocation = "ocsp"'])
def test_good_certificate_keys_load(tmp_path: Path, cert):
    path = tmp_path / "case.toml"
    path.write_text(SCENARIO.replace("CERT", cert))

    assert load_scenario(path).broken.certificate is not None
