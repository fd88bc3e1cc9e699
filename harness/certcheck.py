"""Judging the chain a mail host sends, one property at a time, the way a strict sender would.

OpenSSL stops at the first verify error, so a leaf that is both expired and
issued for another name shows only one of them. The probe takes the chain
from a handshake that verified nothing. It checks each property on its own,
with cryptography: the path to a trusted root, the validity dates, the names
(subjectAltName only, RFC 6125 section 6.4.4), the key size, the signature
algorithm, and revocation by CRL (RFC 5280 section 4.2.1.13) and OCSP
(RFC 6960, named in the Authority Information Access extension, RFC 5280
section 4.2.2.1).

Each problem is reported with OpenSSL's verify code and the class and reason
the strict client gives that code (``classify.VERIFY_CODES``), so a finding
reads the same as the scenario that teaches it.
"""

from __future__ import annotations

import datetime
import ipaddress
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from . import timeouts
from .classify import classify_verify_code
from .findings import Finding, Severity
from .loopback import is_loopback
from .revocation import CERT_REVOKED, UNABLE_TO_GET_CRL, check_crl, crl_urls

# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h) for what this module checks.
NOT_YET_VALID = 9
EXPIRED = 10
SELF_SIGNED = 18
SELF_SIGNED_IN_CHAIN = 19
UNABLE_TO_GET_LOCAL_ISSUER = 20
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
EE_KEY_TOO_SMALL = 66
CA_MD_TOO_WEAK = 68

# OpenSSL security level 2 (the default of Debian's and Ubuntu's OpenSSL 3,
# and what Microsoft requires) refuses RSA keys under 2048 bits and SHA-1 signatures.
MINIMUM_RSA_BITS = 2048
WEAK_HASHES = {"sha1", "md5"}

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class LeafSummary:
    """The leaf's subject, issuer, names, dates, key and signature, for the report."""

    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: str
    not_after: str
    key: str
    signature: str

    def to_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "issuer": self.issuer, "names": list(self.names),
                "not_before": self.not_before, "not_after": self.not_after, "key": self.key,
                "signature": self.signature}


def load_chain(ders: tuple[bytes, ...]) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(der) for der in ders]


def load_roots(pem_or_der: list[bytes]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    # Some roots in system stores carry a serial number that is not positive,
    # which cryptography parses with a deprecation warning; the root is still
    # a root, and a warning here would break the report (and -W error runs).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
        for blob in pem_or_der:
            if blob.lstrip().startswith(b"-----BEGIN"):
                roots.extend(x509.load_pem_x509_certificates(blob))
            else:
                roots.append(x509.load_der_x509_certificate(blob))
    return roots


def summarize(leaf: x509.Certificate) -> LeafSummary:
    return LeafSummary(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        names=tuple(san_names(leaf)),
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        key=describe_key(leaf),
        signature=_hash_name(leaf) or "unknown",
    )


def check_chain(chain: list[x509.Certificate], name: str, roots: list[x509.Certificate],
                now: datetime.datetime | None = None, revocation: bool = True) -> list[Finding]:
    """Return every problem of ``chain`` (leaf first, as sent) for a sender that expects ``name``."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    leaf = chain[0]
    findings: list[Finding] = []
    issuer, trust_finding = _trust(chain, roots)
    if trust_finding:
        findings.append(trust_finding)
    findings.extend(_dates(leaf, moment))
    findings.extend(_names(leaf, name))
    findings.extend(_key(leaf))
    findings.extend(_signature(leaf))
    if revocation and issuer is not None:
        findings.extend(_revocation(leaf, issuer))
    return findings


def _verify_finding(check: str, code: int, summary: str, evidence: list[str], hints: tuple[str, ...],
                    severity: Severity = Severity.ERROR) -> Finding:
    failure = classify_verify_code(code)
    return Finding(check, failure.failure_class, failure.reason, severity, summary, tuple(evidence),
                   verify_code=code, hints=hints)


# Trust: a path from the leaf to a root in the trust store.

def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Return True when ``parent`` names and signed ``child``.

    The signature is checked with the parent's key directly, because
    ``verify_directly_issued_by`` rejects SHA-1 signatures outright, and a
    SHA-1 leaf still has its issuer: its weak signature is a finding of its own.
    """
    if child.issuer != parent.subject:
        return False
    key = parent.public_key()
    algorithm = child.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(child.signature, child.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _trust(chain: list[x509.Certificate], roots: list[x509.Certificate]
           ) -> tuple[x509.Certificate | None, Finding | None]:
    """Walk from the leaf to a trusted root; return the leaf's issuer (if found) and the trust problem."""
    leaf = chain[0]
    sent = chain[1:]
    path = [leaf]
    current = leaf
    while len(path) <= 10:
        root = next((r for r in roots if _signed_by(current, r)), None)
        if root is not None:
            return (path[1] if len(path) > 1 else root), None
        parent = next((c for c in sent if c not in path and _signed_by(current, c)), None)
        if parent is None:
            break
        path.append(parent)
        current = parent
    issuer = path[1] if len(path) > 1 else None
    return issuer, _untrusted(leaf, current, len(chain))


def _untrusted(leaf: x509.Certificate, last: x509.Certificate, sent: int) -> Finding:
    last_subject = last.subject.rfc4514_string()
    if last is leaf and _signed_by(leaf, leaf):
        return _verify_finding("chain-trust", SELF_SIGNED, "The leaf is self-signed: no public root vouches for it.",
                               [f"leaf subject = issuer = {last_subject}"], ("self-signed",))
    if _signed_by(last, last):
        return _verify_finding("chain-trust", SELF_SIGNED_IN_CHAIN,
                               "The chain ends at a root that the trust store does not contain.",
                               [f"chain of {sent} ends at the root {last_subject}, not in the trust store"],
                               ("untrusted-root",))
    missing = last.issuer.rfc4514_string()
    if sent == 1:
        return _verify_finding("chain-trust", UNABLE_TO_GET_LOCAL_ISSUER,
                               "The server sends the leaf alone, and its issuer is neither sent nor trusted: a "
                               "missing intermediate, or a private CA.",
                               [f"server sent 1 certificate; issuer {missing} neither sent nor trusted"],
                               ("incomplete-chain",))
    # The server sent intermediates, so the chain most likely ends at a root
    # the trust store lacks (a private CA, or the wrong --cafile); a further
    # missing intermediate looks the same from here.
    return _verify_finding("chain-trust", UNABLE_TO_GET_LOCAL_ISSUER,
                           "No path leads from the leaf to a trusted root: the chain's root is not in the "
                           "trust store, or an intermediate is still missing.",
                           [f"server sent {sent} certificates; issuer {missing} of {last_subject} "
                            "neither sent nor trusted"], ("untrusted-root", "incomplete-chain"))


# Dates

def _dates(leaf: x509.Certificate, now: datetime.datetime) -> list[Finding]:
    before, after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if after < now:
        return [_verify_finding("leaf-dates", EXPIRED, f"The leaf expired on {after:%Y-%m-%d}.",
                                [f"notAfter {after.isoformat()} < now {now:%Y-%m-%dT%H:%M:%SZ}"], ("expired",))]
    if before > now:
        return [_verify_finding("leaf-dates", NOT_YET_VALID, f"The leaf is valid only from {before:%Y-%m-%d}.",
                                [f"notBefore {before.isoformat()} > now {now:%Y-%m-%dT%H:%M:%SZ}"],
                                ("not-yet-valid",))]
    return []


# Names (RFC 6125 section 6.4: subjectAltName dNSName only, a wildcard covers one whole left label)

def san_names(leaf: x509.Certificate) -> list[str]:
    try:
        san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    return names + [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def common_names(leaf: x509.Certificate) -> list[str]:
    return [str(attribute.value) for attribute in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def name_matches(pattern: str, name: str) -> bool:
    """Match one subjectAltName entry against a host name (or an address) following RFC 6125 section 6.4.3."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if _is_address(name):
        return _is_address(pattern) and ipaddress.ip_address(pattern) == ipaddress.ip_address(name)
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _names(leaf: x509.Certificate, name: str) -> list[Finding]:
    sans = san_names(leaf)
    if any(name_matches(pattern, name) for pattern in sans):
        return []
    if _is_address(name):
        return [_verify_finding("leaf-names", IP_ADDRESS_MISMATCH, f"The leaf does not name the address {name}.",
                                [f"expected {name}; subjectAltName {', '.join(sans) or '-'}"], ("wrong-host",))]
    cns = common_names(leaf)
    if not sans:
        hints: tuple[str, ...] = ("cn-only",) if any(name_matches(cn, name) for cn in cns) else ("wrong-host",)
        return [_verify_finding("leaf-names", HOSTNAME_MISMATCH,
                                f"The leaf has no subjectAltName; strict senders ignore its common name {cns}.",
                                [f"expected {name}; subjectAltName absent; CN={', '.join(cns) or '-'}"],
                                hints + ("no-sni",))]
    wildcard = [p for p in sans if p.startswith("*.") and name.lower().endswith(p[1:].lower())]
    if wildcard:
        return [_verify_finding("leaf-names", HOSTNAME_MISMATCH,
                                f"The wildcard {wildcard[0]} covers one label only, not {name}.",
                                [f"expected {name}; subjectAltName {', '.join(sans)}"],
                                ("wildcard-too-deep", "wrong-host"))]
    return [_verify_finding("leaf-names", HOSTNAME_MISMATCH, f"The leaf is not issued for {name}.",
                            [f"expected {name}; subjectAltName {', '.join(sans)}"], ("wrong-host", "no-sni"))]


# Key and signature

def describe_key(leaf: x509.Certificate) -> str:
    key = leaf.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bits"
    return type(key).__name__


def _key(leaf: x509.Certificate) -> list[Finding]:
    key = leaf.public_key()
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < MINIMUM_RSA_BITS:
        return [_verify_finding("leaf-key", EE_KEY_TOO_SMALL,
                                f"The leaf's key has {key.key_size} bits; OpenSSL security level 2 needs "
                                f"{MINIMUM_RSA_BITS}.", [describe_key(leaf)], ("rsa1024-leaf",))]
    return []


def _hash_name(certificate: x509.Certificate) -> str | None:
    try:
        algorithm = certificate.signature_hash_algorithm
    except Exception:  # cryptography raises UnsupportedAlgorithm for exotic OIDs
        return None
    return algorithm.name if algorithm is not None else None


def _signature(leaf: x509.Certificate) -> list[Finding]:
    digest = _hash_name(leaf)
    if digest in WEAK_HASHES and leaf.issuer != leaf.subject:
        return [_verify_finding("leaf-signature", CA_MD_TOO_WEAK,
                                f"The leaf is signed with {digest.upper()}, which OpenSSL security level 2 "
                                "and Microsoft refuse.", [f"signature algorithm {leaf.signature_algorithm_oid._name}"],
                                ("sha1-signed",))]
    return []


# Revocation

def _revocation(leaf: x509.Certificate, issuer: x509.Certificate) -> list[Finding]:
    findings = []
    outside = [url for url in crl_urls(leaf)[:1] + ocsp_urls(leaf)[:1] if not _on_loopback(url)]
    if outside:
        # NOTE: the harness fetches revocation data from loopback only, so a
        # real host's CRL or OCSP responder is named here but not consulted.
        return [Finding("revocation", classify_verify_code(UNABLE_TO_GET_CRL).failure_class, "not-checked",
                        Severity.INFO, "Revocation not checked: the harness fetches CRLs and OCSP from loopback only.",
                        tuple(f"named in the leaf: {url}" for url in outside))]
    crl = check_crl(leaf, issuer)
    if not crl.good and crl.verify_code is not None:
        hints = ("revoked",) if crl.verify_code == CERT_REVOKED else ("crl-unreachable",)
        findings.append(_verify_finding("revocation-crl", crl.verify_code, crl.message,
                                        [f"CRL {crl.source}: {crl.message}"], hints))
    findings.extend(_ocsp(leaf, issuer))
    return findings


def ocsp_urls(leaf: x509.Certificate) -> list[str]:
    try:
        access = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    except x509.ExtensionNotFound:
        return []
    return [d.access_location.value for d in access
            if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)]


def _ocsp(leaf: x509.Certificate, issuer: x509.Certificate) -> list[Finding]:
    urls = ocsp_urls(leaf)
    if not urls:
        return []
    url = urls[0]
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    # SHA-1 here only names the certificate in the request (RFC 6960 section 4.1.1
    # CertID); every responder supports it, and it signs nothing.
    try:
        answer = ocsp.load_der_ocsp_response(_post(url, request.public_bytes(serialization.Encoding.DER)))
    except (OSError, ValueError, urllib.error.URLError) as error:
        return [_verify_finding("revocation-ocsp", UNABLE_TO_GET_CRL,
                                f"The OCSP responder named in the leaf does not answer: {error}",
                                [f"OCSP {url}: {error}"], ("crl-unreachable",))]
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return [_verify_finding("revocation-ocsp", UNABLE_TO_GET_CRL,
                                f"The OCSP responder answered {answer.response_status.name}.",
                                [f"OCSP {url}: {answer.response_status.name}"], ("crl-unreachable",))]
    if answer.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        return [_verify_finding("revocation-ocsp", CERT_REVOKED, "The OCSP responder says the leaf is revoked.",
                                [f"OCSP {url}: revoked at {answer.revocation_time_utc}"], ("revoked-ocsp",))]
    return []


def _on_loopback(url: str) -> bool:
    return is_loopback(urllib.request.urlparse(url).hostname or "")


def _post(url: str, body: bytes) -> bytes:
    if not _on_loopback(url):
        raise OSError(f"not fetched: {url} is outside loopback, and the harness fetches revocation "
                      "data from loopback only")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
    with _NO_PROXY.open(request, timeout=timeouts.REVOCATION_FETCH_TIMEOUT) as response:
        return response.read(1 << 20)
