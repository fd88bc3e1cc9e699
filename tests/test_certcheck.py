"""The chain checks of probe that no catalog host exercises yet.

OCSP runs against a real responder on loopback: the harness's PKI
repository (a real HTTP server on a loopback address) publishing DER OCSP
responses built with cryptography's OCSP builders, as a CA's responder
would (RFC 6960). The trust verdict's codes that no catalog host produces
(2, 21, and a date error above the leaf) are fed to ``trust_finding``
directly.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from harness.certcheck import check_revocation, find_issuer, trust_finding
from harness.certparse import parse_certificate
from harness.findings import Severity
from harness.loopback import allocate_address
from harness.repository import RepositoryServer

NOW = datetime.datetime.now(datetime.timezone.utc)
NAME = "mx.ocsp.test"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def root():  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder().subject_name(_name("OCSP test root")).issuer_name(_name("OCSP test root"))
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=10)).not_valid_after(NOW + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _leaf(root, ocsp_url: str) -> x509.Certificate:  # type: ignore[no-untyped-def]
    root_certificate, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    access = x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)),
    ])
    return (
        x509.CertificateBuilder().subject_name(_name(NAME)).issuer_name(root_certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(access, critical=False)
        .sign(root_key, hashes.SHA256())
    )


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _revocation(leaf: x509.Certificate, root):  # type: ignore[no-untyped-def]
    return check_revocation(parse_certificate(_der(leaf)), _der(root[0]))


def _responder(root, status: ocsp.OCSPCertStatus):  # type: ignore[no-untyped-def]
    """Return a route that answers every request about the leaf with ``status``, signed by the root."""
    root_certificate, root_key = root

    def answer(body: bytes) -> tuple[str, bytes]:
        request = ocsp.load_der_ocsp_request(body)
        leaf = leaf_by_serial[request.serial_number]
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=leaf, issuer=root_certificate, algorithm=hashes.SHA1(), cert_status=status,
            this_update=NOW, next_update=NOW + datetime.timedelta(hours=1),
            revocation_time=NOW - datetime.timedelta(hours=1) if status is ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, root_certificate)
        response = builder.sign(root_key, hashes.SHA256())
        return "application/ocsp-response", response.public_bytes(serialization.Encoding.DER)

    leaf_by_serial: dict[int, x509.Certificate] = {}
    return answer, leaf_by_serial


@pytest.mark.parametrize(("status", "expected"), [
    (ocsp.OCSPCertStatus.REVOKED, {("validation-failure/certificate-revoked", 23, "revoked-ocsp")}),
    (ocsp.OCSPCertStatus.GOOD, set()),
])
def test_ocsp_status_from_responder(root, status, expected):
    with RepositoryServer() as repository:
        route, leaves = _responder(root, status)
        leaf = _leaf(root, repository.publish("/ocsp", route))
        leaves[leaf.serial_number] = leaf
        findings = _revocation(leaf, root)

    assert {(f.label, f.verify_code, f.hints[0]) for f in findings if f.severity is Severity.ERROR} == expected


def test_ocsp_responder_unreachable(root):
    address = allocate_address()
    leaf = _leaf(root, f"http://{address}:9/ocsp")

    findings = _revocation(leaf, root)

    assert [(f.label, f.verify_code, f.hints[0]) for f in findings] == \
        [("validation-failure/crl-unavailable", 3, "crl-unreachable")]


def test_revocation_outside_loopback_is_not_fetched(root):
    leaf = _leaf(root, "http://ocsp.example.org/")

    findings = _revocation(leaf, root)

    assert [(f.reason, f.severity) for f in findings] == [("not-checked", Severity.INFO)]


def test_revocation_without_issuer_is_left_to_trust(root):
    address = allocate_address()
    leaf = _leaf(root, f"http://{address}:9/ocsp")

    assert check_revocation(parse_certificate(_der(leaf)), None) == []


@pytest.mark.parametrize(("code", "sent", "expected"), [
    (2, 2, ("certificate-not-trusted/unknown-issuer", ("untrusted-root", "incomplete-chain"))),
    (20, 1, ("certificate-not-trusted/unknown-issuer", ("incomplete-chain",))),
    (21, 1, ("certificate-not-trusted/incomplete-chain", ("incomplete-chain",))),
    (7, 2, ("validation-failure/bad-signature", ())),
])
def test_trust_finding_from_verify_code(root, code, sent, expected):
    leaf = parse_certificate(_der(_leaf(root, "http://127.0.0.1:9/ocsp")))
    chain = [leaf, parse_certificate(_der(root[0]))][:sent]

    finding = trust_finding(code, "message from OpenSSL", chain)

    assert finding is not None
    assert (finding.label, finding.hints) == expected
    assert finding.verify_code == code


def test_trust_finding_none_when_verified(root):
    leaf = parse_certificate(_der(_leaf(root, "http://127.0.0.1:9/ocsp")))

    assert trust_finding(0, "ok", [leaf]) is None


def test_trust_finding_leaves_leaf_dates_to_leaf_check(root):
    expired = parse_certificate(_der(_leaf_valid_until(root, NOW - datetime.timedelta(days=1))))
    current = parse_certificate(_der(_leaf_valid_until(root, NOW + datetime.timedelta(days=1))))

    assert trust_finding(10, "certificate has expired", [expired]) is None
    above_leaf = trust_finding(10, "certificate has expired", [current])
    assert above_leaf is not None
    assert (above_leaf.check, above_leaf.label, above_leaf.verify_code) == \
        ("chain-dates", "certificate-expired/expired", 10)


def _leaf_valid_until(root, not_after: datetime.datetime) -> x509.Certificate:  # type: ignore[no-untyped-def]
    root_certificate, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder().subject_name(_name(NAME)).issuer_name(root_certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_after - datetime.timedelta(days=10)).not_valid_after(not_after)
        .sign(root_key, hashes.SHA256())
    )


def _leaf_with_crl(root, crl_url: str) -> x509.Certificate:  # type: ignore[no-untyped-def]
    root_certificate, root_key = root
    key = ec.generate_private_key(ec.SECP256R1())
    point = x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None,
                                   reasons=None, crl_issuer=None)
    return (
        x509.CertificateBuilder().subject_name(_name(NAME)).issuer_name(root_certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.CRLDistributionPoints([point]), critical=False)
        .sign(root_key, hashes.SHA256())
    )


def _crl_revoking(root, serial: int) -> bytes:  # type: ignore[no-untyped-def]
    root_certificate, root_key = root
    revoked = (x509.RevokedCertificateBuilder().serial_number(serial)
               .revocation_date(NOW - datetime.timedelta(hours=1)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(root_certificate.subject)
           .last_update(NOW - datetime.timedelta(hours=1)).next_update(NOW + datetime.timedelta(days=1))
           .add_revoked_certificate(revoked).sign(root_key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(("impostor", "expected"), [
    (False, [("validation-failure/certificate-revoked", 23)]),
    (True, []),
])
def test_revocation_needs_leaf_signer_key(root, impostor, expected):
    # A server that sends an old intermediate of the issuer's name, re-keyed since: OpenSSL
    # builds no path, and find_issuer falls back to that certificate by its name. Its key
    # cannot verify the CRL, so a "CRL signature failure" would blame the wrong thing.
    with RepositoryServer() as repository:
        crl = {}
        leaf = _leaf_with_crl(root, repository.publish("/root.crl", lambda _: ("application/pkix-crl", crl["der"])))
        crl["der"] = _crl_revoking(root, leaf.serial_number)
        sent = _der(_same_name_other_key(root[0])) if impostor else _der(root[0])
        facts = parse_certificate(_der(leaf))
        issuer = find_issuer([facts, parse_certificate(sent)], [])
        findings = check_revocation(facts, issuer)

    assert issuer == sent
    assert [(f.label, f.verify_code) for f in findings] == expected


def _same_name_other_key(certificate: x509.Certificate) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder().subject_name(certificate.subject).issuer_name(certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=10)).not_valid_after(NOW + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_trust_finding_names_expired_intermediate(root):
    expired = parse_certificate(_der(_leaf_valid_until(root, NOW - datetime.timedelta(days=1))))
    current = parse_certificate(_der(_leaf_valid_until(root, NOW + datetime.timedelta(days=1))))

    finding = trust_finding(10, "certificate has expired", [current, expired])

    assert finding is not None
    assert (finding.check, finding.label, finding.verify_code) == ("chain-dates", "certificate-expired/expired", 10)
    assert finding.hints == ("incomplete-chain",)
