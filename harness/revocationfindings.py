"""The probe's revocation check: the leaf's CRL and OCSP status as findings.

Kept apart from ``certcheck`` because it needs cryptography for the
signatures of CRLs and the building of OCSP requests, and importing
cryptography costs about as much as a whole probe of a host whose leaf
names no CRL or responder. ``certcheck.check_revocation`` imports this
module only when the leaf names one on loopback.
"""

from __future__ import annotations

import urllib.error

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from .certcheck import verify_finding
from .findings import Finding
from .revocation import CERT_REVOKED, UNABLE_TO_GET_CRL, check_crl, fetch, ocsp_urls


def revocation_findings(leaf_der: bytes, issuer_der: bytes) -> list[Finding]:
    """Return the leaf's revocation problems: revoked, or its CRL or responder unusable."""
    leaf = x509.load_der_x509_certificate(leaf_der)
    issuer = x509.load_der_x509_certificate(issuer_der)
    if not _signed_by(leaf, issuer):
        # ``certcheck.find_issuer`` falls back to a sent certificate that only
        # bears the issuer's name (an old intermediate after the CA re-keyed).
        # Its key did not sign the leaf, so no CRL or OCSP response would verify
        # with it; the trust finding already names the missing issuer.
        return []
    findings = []
    crl = check_crl(leaf, issuer)
    if not crl.good and crl.verify_code is not None:
        hints = ("revoked",) if crl.verify_code == CERT_REVOKED else ("crl-unreachable",)
        summary = crl.message[:1].upper() + crl.message[1:] + "."  # a sentence, like every other finding's
        findings.append(verify_finding("revocation-crl", crl.verify_code, summary,
                                        [f"CRL {crl.source}: {crl.message}"], hints))
    findings.extend(_ocsp(leaf, issuer))
    return findings


def _signed_by(leaf: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Return True when ``issuer`` names and signed ``leaf``.

    ``verify_directly_issued_by`` rejects SHA-1 signatures outright, yet a
    SHA-1 leaf still has its issuer (its weak signature is a finding of its
    own), so PKCS #1 v1.5 and ECDSA signatures it does not take are checked
    with the issuer's key directly.
    """
    try:
        leaf.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # another name, or a digest that this call does not verify
    if leaf.issuer != issuer.subject:
        return False
    try:
        key, digest = issuer.public_key(), leaf.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and digest is not None:
            key.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(digest))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _ocsp(leaf: x509.Certificate, issuer: x509.Certificate) -> list[Finding]:
    urls = ocsp_urls(leaf)
    if not urls:
        return []
    url = urls[0]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    # SHA-1 here only names the certificate in the request (RFC 6960 section 4.1.1
    # CertID); every responder supports it, and it signs nothing.
    try:
        body = request.public_bytes(serialization.Encoding.DER)
        answer = ocsp.load_der_ocsp_response(fetch(url, data=body, content_type="application/ocsp-request"))
    except (OSError, ValueError, urllib.error.URLError) as error:
        return [verify_finding("revocation-ocsp", UNABLE_TO_GET_CRL,
                                f"The OCSP responder named in the leaf does not answer: {error}",
                                [f"OCSP {url}: {error}"], ("crl-unreachable",))]
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return [verify_finding("revocation-ocsp", UNABLE_TO_GET_CRL,
                                f"The OCSP responder answered {answer.response_status.name}.",
                                [f"OCSP {url}: {answer.response_status.name}"], ("crl-unreachable",))]
    if answer.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        return [verify_finding("revocation-ocsp", CERT_REVOKED, "The OCSP responder says the leaf is revoked.",
                                [f"OCSP {url}: revoked at {answer.revocation_time_utc}"], ("revoked-ocsp",))]
    return []

