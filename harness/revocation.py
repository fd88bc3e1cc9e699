"""Revocation checking of a verified leaf: CRL now, the way a checking MTA does it.

Postfix checks no revocation at all. Exchange Online and Exchange Server
check through Windows' CryptoAPI, which fetches the CRL named in the leaf's
CRL distribution point (RFC 5280 section 4.2.1.13) and refuses the chain if
the leaf's serial number is listed. The strict client does the same after
the handshake, with the chain OpenSSL verified, and reports OpenSSL's verify
code for each outcome so results read like ``openssl verify -crl_check``:
23 certificate revoked, 3 unable to get certificate CRL, 8 CRL signature
failure, 12 CRL has expired.

Fetches go to loopback only and never through a proxy.
"""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from . import timeouts
from .loopback import is_loopback

# OpenSSL's X509_V_ERR_* codes for the revocation results.
CERT_REVOKED = 23
UNABLE_TO_GET_CRL = 3
CRL_SIGNATURE_FAILURE = 8
CRL_HAS_EXPIRED = 12

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


def fetch(url: str, timeout: float = timeouts.REVOCATION_FETCH_TIMEOUT) -> bytes:
    """GET ``url`` from a loopback host; raise OSError when it is unreachable."""
    host = urllib.request.urlparse(url).hostname or ""
    if not is_loopback(host):
        raise OSError(f"refusing to fetch {url}: the harness only connects to loopback addresses")
    with _NO_PROXY.open(url, timeout=timeout) as response:
        return response.read(1 << 20)


def check_crl(leaf: x509.Certificate, issuer: x509.Certificate,
              now: datetime.datetime | None = None) -> RevocationResult:
    """Check the leaf against the CRL at its distribution point.

    A leaf without a distribution point counts as good: there is nothing to
    check, and that is how Exchange and browsers treat it too.
    """
    urls = crl_urls(leaf)
    if not urls:
        return RevocationResult(None, "no CRL distribution point: revocation not checked")
    url = urls[0]
    try:
        crl = x509.load_der_x509_crl(fetch(url))
    except (OSError, urllib.error.URLError) as error:
        return RevocationResult(UNABLE_TO_GET_CRL, f"unable to get certificate CRL from {url}: {error}", url)
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
