"""Judging the chain a mail host sends, one property at a time, the way a strict sender would.

OpenSSL stops at the first verify error, so a leaf that is both expired and
issued for another name shows only one of them. The probe therefore splits
the judgement:

- Trust is OpenSSL's own verdict. A separate handshake verifies the chain
  against the trust store at security level 0 and without a name check, so
  its verify code can only be about the path to a root (2, 18, 19, 20, 21)
  or about a signature, a date or a purpose somewhere in the chain.
  ``trust_finding`` turns that code into a finding.
- The leaf's own properties are read from its DER bytes (``certparse``) and
  checked each on its own: the validity dates, the names (subjectAltName
  only, RFC 6125 section 6.4.4), the key size and the signature algorithm.
- Revocation by CRL (RFC 5280 section 4.2.1.13) and OCSP (RFC 6960, named in
  the Authority Information Access extension, RFC 5280 section 4.2.2.1)
  needs signature checks, so it uses cryptography. It is imported only when
  the leaf names a CRL or a responder, because importing it costs about as
  much as the rest of a probe.

Each problem is reported with OpenSSL's verify code and the class and reason
the strict client gives that code (``classify.VERIFY_CODES``), so a finding
reads the same as the scenario that teaches it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from .certparse import CertificateFacts
from .classify import classify_verify_code
from .findings import Finding, Severity
from .loopback import is_loopback

# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h) for what this module checks.
UNABLE_TO_GET_CRL = 3
NOT_YET_VALID = 9
EXPIRED = 10
SELF_SIGNED = 18
SELF_SIGNED_IN_CHAIN = 19
UNABLE_TO_GET_LOCAL_ISSUER = 20
CERT_REVOKED = 23
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
EE_KEY_TOO_SMALL = 66
CA_MD_TOO_WEAK = 68

# The codes with which OpenSSL's chain building gives up: no path from the
# leaf to a root in the trust store. 2 and 20 differ only in whether the
# last certificate found came from the peer or from the store; 21 is the
# leaf alone whose issuer is missing.
# NOTE: this order (chain building before any date, purpose or signature
# check) was checked on OpenSSL 3.0.19 only. A later OpenSSL may report a
# date error for a chain that also reaches no trusted root.
UNTRUSTED_PATH = {2, 18, 19, 20, 21}

# OpenSSL security level 2 (the default of Debian's and Ubuntu's OpenSSL 3,
# and what Microsoft requires) rejects RSA keys under 2048 bits and SHA-1 signatures.
MINIMUM_RSA_BITS = 2048
WEAK_HASHES = {"sha1", "md5"}


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


def summarize(leaf: CertificateFacts) -> LeafSummary:
    return LeafSummary(
        subject=leaf.subject,
        issuer=leaf.issuer,
        names=san_names(leaf),
        not_before=leaf.not_before.isoformat(),
        not_after=leaf.not_after.isoformat(),
        key=leaf.describe_key(),
        signature=leaf.signature_hash or "unknown",
    )


def check_leaf(leaf: CertificateFacts, name: str, now: datetime.datetime | None = None) -> list[Finding]:
    """Return every problem of the leaf itself for a sender that expects ``name``: dates, names, key, signature."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    findings = _dates(leaf, moment)
    findings.extend(_names(leaf, name))
    findings.extend(_key(leaf))
    findings.extend(_signature(leaf))
    return findings


def verify_finding(check: str, code: int, summary: str, evidence: list[str], hints: tuple[str, ...],
                    severity: Severity = Severity.ERROR) -> Finding:
    failure = classify_verify_code(code)
    return Finding(check, failure.failure_class, failure.reason, severity, summary, tuple(evidence),
                   verify_code=code, hints=hints)


# Trust: OpenSSL's verdict on the path from the leaf to a trusted root

def trust_finding(verify_code: int, verify_message: str, chain: list[CertificateFacts],
                  now: datetime.datetime | None = None) -> Finding | None:
    """Turn the verify code of a handshake that checked only the chain into a finding, or None.

    ``chain`` is what the server sent, leaf first. A date error that the
    leaf's own check already reports is not repeated here.
    """
    if verify_code == 0:
        return None
    if verify_code in UNTRUSTED_PATH:
        return _untrusted(verify_code, chain)
    if verify_code in (EXPIRED, NOT_YET_VALID):
        return _dates_in_chain(verify_code, verify_message, chain, now or datetime.datetime.now(datetime.timezone.utc))
    return verify_finding("chain-trust", verify_code, f"OpenSSL rejects the chain: {verify_message}.",
                           [f"verify code {verify_code} ({verify_message}) for a chain of {len(chain)} sent"], ())


def _dates_in_chain(code: int, message: str, chain: list[CertificateFacts], now: datetime.datetime) -> Finding | None:
    """Name the certificate whose dates OpenSSL rejected: a sent intermediate, the leaf, or else the trusted root.

    OpenSSL checks the dates from the top of the chain down and reports the
    first failure without saying where, so the sent certificates are
    checked here one by one.
    """
    for certificate in chain[1:]:
        if certificate.not_after < now or certificate.not_before > now:
            return verify_finding(
                "chain-dates", code,
                f"The intermediate {certificate.subject} that the server sends is outside its validity dates; "
                "serve the CA's current intermediate with the leaf.",
                [f"valid {certificate.not_before:%Y-%m-%d} to {certificate.not_after:%Y-%m-%d}, "
                 f"now {now:%Y-%m-%d}: {message}"], ("incomplete-chain",))
    if _dates(chain[0], now):
        return None  # the leaf's own date check reports it
    return verify_finding("chain-dates", code,
                           "The root in the trust store that the chain ends at is outside its validity dates.",
                           [f"verify code {code} ({message}); every certificate the server sends is within its dates"],
                           ())


def _untrusted(code: int, chain: list[CertificateFacts]) -> Finding:
    leaf, last = chain[0], chain[-1]
    sent = len(chain)
    if code == SELF_SIGNED:
        return verify_finding("chain-trust", code, "The leaf is self-signed: no public root vouches for it.",
                               [f"leaf subject = issuer = {leaf.subject}"], ("self-signed",))
    if code == SELF_SIGNED_IN_CHAIN:
        return verify_finding("chain-trust", code, "The chain ends at a root that the trust store does not contain.",
                               [f"chain of {sent} ends at the root {last.subject}, not in the trust store"],
                               ("untrusted-root",))
    if sent == 1:
        return verify_finding("chain-trust", code,
                               "The server sends the leaf alone, and its issuer is neither sent nor trusted: a "
                               "missing intermediate, or a private CA.",
                               [f"server sent 1 certificate; issuer {leaf.issuer} neither sent nor trusted"],
                               ("incomplete-chain",))
    # The server sent intermediates, so the chain most likely ends at a root
    # the trust store lacks (a private CA, or the wrong --cafile); a further
    # missing intermediate looks the same from here.
    return verify_finding("chain-trust", code,
                           "No path leads from the leaf to a trusted root: the chain's root is not in the "
                           "trust store, or an intermediate is still missing.",
                           [f"server sent {sent} certificates; issuer {last.issuer} of {last.subject} "
                            "neither sent nor trusted"], ("untrusted-root", "incomplete-chain"))


# Dates

def _dates(leaf: CertificateFacts, now: datetime.datetime) -> list[Finding]:
    before, after = leaf.not_before, leaf.not_after
    if after < now:
        return [verify_finding("leaf-dates", EXPIRED, f"The leaf expired on {after:%Y-%m-%d}.",
                                [f"notAfter {after.isoformat()} < now {now:%Y-%m-%dT%H:%M:%SZ}"], ("expired",))]
    if before > now:
        return [verify_finding("leaf-dates", NOT_YET_VALID, f"The leaf is valid only from {before:%Y-%m-%d}.",
                                [f"notBefore {before.isoformat()} > now {now:%Y-%m-%dT%H:%M:%SZ}"],
                                ("not-yet-valid",))]
    return []


# Names (RFC 6125 section 6.4: subjectAltName dNSName only, a wildcard covers one whole left label)

def san_names(leaf: CertificateFacts) -> tuple[str, ...]:
    return leaf.dns_names + leaf.ip_addresses


def name_matches(pattern: str, name: str) -> bool:
    """Match one subjectAltName entry against a host name (or an address) following RFC 6125 section 6.4.3."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if is_address(name):
        return is_address(pattern) and ipaddress.ip_address(pattern) == ipaddress.ip_address(name)
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def is_address(text: str) -> bool:
    """Return True when ``text`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _names(leaf: CertificateFacts, name: str) -> list[Finding]:
    sans = san_names(leaf)
    if any(name_matches(pattern, name) for pattern in sans):
        return []
    if is_address(name):
        return [verify_finding("leaf-names", IP_ADDRESS_MISMATCH, f"The leaf does not name the address {name}.",
                                [f"expected {name}; subjectAltName {', '.join(sans) or '-'}"], ("wrong-host",))]
    cns = list(leaf.common_names)
    if not sans:
        hints: tuple[str, ...] = ("cn-only",) if any(name_matches(cn, name) for cn in cns) else ("wrong-host",)
        return [verify_finding("leaf-names", HOSTNAME_MISMATCH,
                                f"The leaf has no subjectAltName; strict senders ignore its common name {cns}.",
                                [f"expected {name}; subjectAltName absent; CN={', '.join(cns) or '-'}"],
                                hints + ("no-sni",))]
    wildcard = [p for p in sans if p.startswith("*.") and name.lower().endswith(p[1:].lower())]
    if wildcard:
        return [verify_finding("leaf-names", HOSTNAME_MISMATCH,
                                f"The wildcard {wildcard[0]} covers one label only, not {name}.",
                                [f"expected {name}; subjectAltName {', '.join(sans)}"],
                                ("wildcard-too-deep", "wrong-host"))]
    return [verify_finding("leaf-names", HOSTNAME_MISMATCH, f"The leaf is not issued for {name}.",
                            [f"expected {name}; subjectAltName {', '.join(sans)}"], ("wrong-host", "no-sni"))]


# Key and signature

def _key(leaf: CertificateFacts) -> list[Finding]:
    bits = leaf.key_bits
    if leaf.key_type in ("RSA", "DSA") and bits is not None and bits < MINIMUM_RSA_BITS:
        return [verify_finding("leaf-key", EE_KEY_TOO_SMALL,
                                f"The leaf's key has {bits} bits; OpenSSL security level 2 needs "
                                f"{MINIMUM_RSA_BITS}.", [leaf.describe_key()], ("rsa1024-leaf",))]
    return []


def _signature(leaf: CertificateFacts) -> list[Finding]:
    digest = leaf.signature_hash
    # A self-signed leaf's own signature is never checked (trust ends at it),
    # so only an issued leaf's weak signature matters.
    if digest in WEAK_HASHES and not leaf.self_issued:
        return [verify_finding("leaf-signature", CA_MD_TOO_WEAK,
                                f"The leaf is signed with {digest.upper()}, which OpenSSL security level 2 "
                                "and Microsoft reject.", [f"signature algorithm {leaf.signature_algorithm}"],
                                ("sha1-signed",))]
    return []


# Revocation

def find_issuer(chain: list[CertificateFacts], verified: list[bytes]) -> bytes | None:
    """Return the DER of the leaf's issuer: from the chain OpenSSL verified, else the sent certificate naming it.

    ``chain`` is what the server sent, leaf first. A sent certificate found
    by name alone is not checked here: the CRL's or the OCSP response's
    signature, checked with its key, would not verify.
    """
    leaf = chain[0]
    if len(verified) > 1:
        return verified[1]
    if verified and leaf.self_issued:
        return verified[0]
    for certificate in chain[1:]:
        if certificate.subject_der == leaf.issuer_der:
            return certificate.der
    return None


def check_revocation(leaf: CertificateFacts, issuer_der: bytes | None) -> list[Finding]:
    """Check the leaf by its CRL and its OCSP responder, when it names them on loopback.

    A CRL or responder outside loopback is named in an info finding and not
    fetched: the harness connects only to loopback.
    """
    crls = [url for url in leaf.crl_urls if url.startswith("http://")]
    responders = [url for url in leaf.ocsp_urls if url.startswith("http://")]
    urls = crls[:1] + responders[:1]
    if not urls:
        return []
    outside = [url for url in urls if not _on_loopback(url)]
    if outside:
        # NOTE: the harness fetches revocation data from loopback only, so a
        # real host's CRL or OCSP responder is named here but not consulted.
        return [Finding("revocation", classify_verify_code(UNABLE_TO_GET_CRL).failure_class, "not-checked",
                        Severity.INFO, "Revocation not checked: the harness fetches CRLs and OCSP from loopback only.",
                        tuple(f"named in the leaf: {url}" for url in outside))]
    if issuer_der is None:
        return []  # the trust finding already reports the missing issuer
    from .revocationfindings import revocation_findings

    return revocation_findings(leaf.der, issuer_der)


def _on_loopback(url: str) -> bool:
    import urllib.parse  # here, because most leaves a probe reads name no CRL or responder

    return is_loopback(urllib.parse.urlsplit(url).hostname or "")
