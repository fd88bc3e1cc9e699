"""The simulated PKI: fixed dates, chains, CRLs, and keys that never leave a private folder."""

from __future__ import annotations

import datetime
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.pki import CertificateSpec, Chain, Issuer, SimulatedPKI

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def pki():
    with SimulatedPKI("http://127.0.0.1:1", now=NOW) as running:
        yield running


def test_dates_are_relative_to_fixed_clock(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), not_before_days=-90, not_after_days=-1)).certificate

    assert leaf.not_valid_after_utc == NOW - datetime.timedelta(days=1)
    assert leaf.not_valid_before_utc == NOW - datetime.timedelta(days=90)


def test_public_leaf_chain_has_intermediate(pki):
    issued = pki.issue(CertificateSpec(names=("mx.a.test",)))

    assert issued.certfile.read_bytes().count(b"BEGIN CERTIFICATE") == 2


def test_leaf_only_chain_has_one_certificate(pki):
    issued = pki.issue(CertificateSpec(names=("mx.a.test",), chain=Chain.LEAF_ONLY))

    assert issued.certfile.read_bytes().count(b"BEGIN CERTIFICATE") == 1


def test_self_signed_leaf_is_its_own_issuer(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), issuer=Issuer.SELF)).certificate

    assert leaf.issuer == leaf.subject


def test_cn_only_leaf_has_no_san(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",), subject_alt_name=False)).certificate

    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_san_is_not_critical(pki):
    leaf = pki.issue(CertificateSpec(names=("mx.a.test",))).certificate

    assert not leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_same_spec_is_issued_once(pki):
    spec = CertificateSpec(names=("mx.a.test",))

    assert pki.issue(spec) is pki.issue(spec)


def test_crl_lists_revoked_serial_only(pki):
    revoked = pki.issue(CertificateSpec(names=("mx.a.test",), revoked=True))
    good = pki.issue(CertificateSpec(names=("mx.b.test",)))

    crl = x509.load_der_x509_crl(pki.crl_der("public-intermediate"))

    assert crl.get_revoked_certificate_by_serial_number(revoked.serial) is not None
    assert crl.get_revoked_certificate_by_serial_number(good.serial) is None
    assert crl.is_signature_valid(pki.intermediate.certificate.public_key())


def test_openssl_itself_reports_revoked_as_23(tmp_path):
    # Cross-check of the client's own CRL verdict: OpenSSL, given the same
    # CRL, fails the same leaf with X509_V_ERR_CERT_REVOKED (23).
    with SimulatedPKI("http://127.0.0.1:1") as pki:
        issued = pki.issue(CertificateSpec(names=("mx.a.test",), revoked=True))
        crl = x509.load_der_x509_crl(pki.crl_der("public-intermediate"))
        crl_pem = crl.public_bytes(serialization.Encoding.PEM)
        trust = tmp_path / "trust.pem"
        trust.write_bytes(pki.cafile.read_bytes() + crl_pem)

        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(issued.certfile, issued.keyfile)
        client = ssl.create_default_context(cafile=str(trust))
        client.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF

        code = _handshake_verify_code(server, client, "mx.a.test")

    assert code == 23


def _handshake_verify_code(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> int | None:
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(client_in, client_out, server_hostname=name)
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        try:
            client_side.do_handshake()
            return None
        except ssl.SSLCertVerificationError as error:
            return error.verify_code
        except ssl.SSLWantReadError:
            pass
        server_in.write(client_out.read())
        try:
            server_side.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        client_in.write(server_out.read())
    raise AssertionError("handshake did not finish")


def test_keys_live_in_private_folder_and_are_removed():
    with SimulatedPKI() as pki:
        issued = pki.issue(CertificateSpec(names=("mx.a.test",)))
        folder = pki.folder
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(issued.keyfile.stat().st_mode) == 0o600
        assert issued.keyfile.parent == folder

    assert not folder.exists()
