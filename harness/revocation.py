"""Revocation checking of a verified leaf by CRL or OCSP, the way a checking MTA does it.

Postfix checks no revocation at all. Exchange Online and Exchange Server
check through Windows' CryptoAPI, which fetches the CRL named in the leaf's
CRL distribution point (RFC 5280 section 4.2.1.13) and refuses the chain if
the leaf's serial number is listed. The strict client does the same after
the handshake, with the chain OpenSSL verified, and reports OpenSSL's verify
code for each outcome so results read like ``openssl verify -crl_check``:
23 certificate revoked, 3 unable to get certificate CRL, 8 CRL signature
failure, 12 CRL has expired.

When the leaf's Authority Information Access names an OCSP responder
(RFC 5280 section 4.2.2.1), the client asks it instead (RFC 6960), as
CryptoAPI prefers OCSP where a leaf offers it. A "revoked" answer is verify
code 23, as OpenSSL reports it when it checks a stapled response; a
responder that cannot be reached or whose answer does not verify is 74
(X509_V_ERR_OCSP_VERIFY_FAILED), and "unknown" is 75
(X509_V_ERR_OCSP_CERT_UNKNOWN).

The check hard-fails: when the CRL or the responder does not answer within
``timeouts.REVOCATION_FETCH_TIMEOUT``, the leaf is refused. Most TLS clients
soft-fail (they accept the leaf when revocation data is missing); the
lessons of the crl-unreachable and revoked-ocsp scenarios explain both.

This module also holds the responder side: ``build_ocsp_response`` answers
a DER request for the simulated PKI.

Fetches go to loopback only and never through a proxy.
"""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from . import timeouts
from .loopback import is_loopback

# OpenSSL's X509_V_ERR_* codes for the revocation results.
CERT_REVOKED = 23
UNABLE_TO_GET_CRL = 3
CRL_SIGNATURE_FAILURE = 8
CRL_HAS_EXPIRED = 12
OCSP_VERIFY_FAILED = 74
OCSP_CERT_UNKNOWN = 75

_DER = serialization.Encoding.DER
# Clocks of sender and responder may differ a little; RFC 6960 leaves the margin to the client.
_CLOCK_SKEW = datetime.timedelta(minutes=5)

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class RevocationResult:
    """The verdict on one leaf: ``verify_code`` is None when the leaf is good."""

    verify_code: int | None
    message: str
    source: str | None = None  # the URL consulted

    @property
    def good(self) -> bool:
        return self.verify_code is None


def crl_urls(leaf: x509.Certificate) -> list[str]:
    """Return the HTTP URLs of the leaf's CRL distribution points."""
    try:
        points = leaf.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith("http://"):
                urls.append(name.value)
    return urls


def ocsp_urls(leaf: x509.Certificate) -> list[str]:
    """Return the HTTP URLs of the OCSP responders in the leaf's Authority Information Access."""
    try:
        access = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    except x509.ExtensionNotFound:
        return []
    return [
        description.access_location.value
        for description in access
        if description.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
        and description.access_location.value.startswith("http://")
    ]


def fetch(url: str, timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT, data: bytes | None = None,
          content_type: str = "application/octet-stream") -> bytes:
    """GET ``url`` (POST when ``data`` is given) from a loopback host; raise OSError when it is unreachable."""
    host = urllib.request.urlparse(url).hostname or ""
    if not is_loopback(host):
        raise OSError(f"refusing to fetch {url}: the harness only connects to loopback addresses")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type} if data else {})
    with _NO_PROXY.open(request, timeout=timeout) as response:
        return response.read(1 << 20)


def _fetch_problem(error: BaseException, timeout: float) -> str:
    """Describe a failed fetch; a timeout names the setting that bounded the wait."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError) or isinstance(error, TimeoutError):
        return f"no answer within the revocation timeout ({timeout:g} s, REVOCATION_FETCH_TIMEOUT by default)"
    return str(error)


def check_revocation(leaf: x509.Certificate, issuer: x509.Certificate,
                     timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT) -> RevocationResult:
    """Check the leaf by OCSP when it names a responder, else by CRL."""
    if ocsp_urls(leaf):
        return check_ocsp(leaf, issuer, timeout=timeout)
    return check_crl(leaf, issuer, timeout=timeout)


def check_crl(leaf: x509.Certificate, issuer: x509.Certificate, now: datetime.datetime | None = None,
              timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT) -> RevocationResult:
    """Check the leaf against the CRL at its distribution point.

    A leaf without a distribution point counts as good: there is nothing to
    check, and that is how Exchange and browsers treat it too.
    """
    urls = crl_urls(leaf)
    if not urls:
        return RevocationResult(None, "no CRL distribution point: revocation not checked")
    url = urls[0]
    try:
        crl = x509.load_der_x509_crl(fetch(url, timeout))
    except (OSError, urllib.error.URLError) as error:
        return RevocationResult(UNABLE_TO_GET_CRL,
                                f"unable to get certificate CRL from {url}: {_fetch_problem(error, timeout)}", url)
    except ValueError as error:
        return RevocationResult(UNABLE_TO_GET_CRL, f"CRL from {url} is not valid DER: {error}", url)

    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return RevocationResult(CRL_SIGNATURE_FAILURE, f"CRL signature failure ({url})", url)
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    if crl.next_update_utc is not None and crl.next_update_utc < moment:
        return RevocationResult(CRL_HAS_EXPIRED, f"CRL has expired ({url})", url)
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is not None:
        when = entry.revocation_date_utc.isoformat()
        return RevocationResult(CERT_REVOKED, f"certificate revoked on {when} (serial {leaf.serial_number:x})", url)
    return RevocationResult(None, f"not revoked according to {url}", url)


def check_ocsp(leaf: x509.Certificate, issuer: x509.Certificate, now: datetime.datetime | None = None,
               timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT) -> RevocationResult:
    """Query the leaf's OCSP responder (RFC 6960) and verify the response against the issuer."""
    url = ocsp_urls(leaf)[0]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    try:
        answer = fetch(url, timeout, data=request.public_bytes(_DER), content_type="application/ocsp-request")
        response = ocsp.load_der_ocsp_response(answer)
    except (OSError, urllib.error.URLError) as error:
        return RevocationResult(OCSP_VERIFY_FAILED, f"OCSP responder {url} unreachable: {_fetch_problem(error, timeout)}", url)
    except ValueError as error:
        return RevocationResult(OCSP_VERIFY_FAILED, f"OCSP response from {url} is not valid DER: {error}", url)

    problem = _ocsp_problem(response, leaf, issuer, now or datetime.datetime.now(datetime.timezone.utc))
    if problem:
        return RevocationResult(OCSP_VERIFY_FAILED, f"OCSP verification failed ({url}): {problem}", url)
    if response.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        when = response.revocation_time_utc.isoformat() if response.revocation_time_utc else "?"
        return RevocationResult(CERT_REVOKED, f"certificate revoked on {when} (serial {leaf.serial_number:x}, "
                                f"OCSP {url})", url)
    if response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN:
        return RevocationResult(OCSP_CERT_UNKNOWN, f"OCSP unknown cert (serial {leaf.serial_number:x}, {url})", url)
    return RevocationResult(None, f"good according to OCSP responder {url}", url)


def _ocsp_problem(response: ocsp.OCSPResponse, leaf: x509.Certificate, issuer: x509.Certificate,
                  now: datetime.datetime) -> str:
    """Return why a response cannot be trusted, or "" when it is sound."""
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"responder status {response.response_status.name.lower()}"
    if response.serial_number != leaf.serial_number:
        return f"the response is about serial {response.serial_number:x}, not {leaf.serial_number:x}"
    # The issuer signs its own responses here; a delegated responder
    # (RFC 6960 section 4.2.2.2) would need its certificate checked too.
    if not _signed_by(issuer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm):
        return "the response is not signed by the leaf's issuer"
    if response.this_update_utc > now + _CLOCK_SKEW:
        return "the response's thisUpdate is in the future"
    if response.next_update_utc is not None and response.next_update_utc < now - _CLOCK_SKEW:
        return "the response's nextUpdate has passed"
    return ""


def _signed_by(issuer: x509.Certificate, signature: bytes, data: bytes,
               algorithm: hashes.HashAlgorithm | None) -> bool:
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def build_ocsp_response(request_der: bytes, issuer: x509.Certificate, issuer_key,  # type: ignore[no-untyped-def]
                        revoked_serials: Iterable[int], now: datetime.datetime) -> bytes:
    """Build the response to a DER OCSP request as the issuer itself would, signed with its key.

    A request that does not parse gets the "malformedRequest" status; a
    request for another issuer's certificate gets "unauthorized" (RFC 6960
    section 2.3). Times are relative to the PKI's clock ``now``.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(_DER)
    if request.issuer_key_hash != _key_hash(issuer, request.hash_algorithm):
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(_DER)

    revoked = request.serial_number in set(revoked_serials)
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        algorithm=request.hash_algorithm,
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=now - datetime.timedelta(hours=1),
        next_update=now + datetime.timedelta(days=4),
        revocation_time=now - datetime.timedelta(hours=2) if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(_DER)


def _key_hash(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash the issuer's subjectPublicKey bits, as a CertID's issuerKeyHash does (RFC 6960 section 4.1.1)."""
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    digest = hashes.Hash(algorithm)
    digest.update(bits)
    return digest.finalize()
