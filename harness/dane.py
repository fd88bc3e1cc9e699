"""DANE for SMTP (RFC 7672): TLSA records, the DNSSEC status they need, and matching them.

A receiving domain that signs its zone with DNSSEC can publish TLSA records
at ``_25._tcp.<mx host>`` (RFC 7672 section 2.2.3). Each record has four
fields (RFC 6698 section 2.1):

- usage: 2 (DANE-TA, a trust anchor in the chain the server sends) or
  3 (DANE-EE, the server's own certificate or key). Usages 0 and 1 (the
  PKIX ones) may be treated as unusable for SMTP (RFC 7672 section 3.1.3),
  and this module does;
- selector: 0 (the whole certificate) or 1 (its SubjectPublicKeyInfo);
- matching type: 0 (the data itself), 1 (SHA-256) or 2 (SHA-512).

The rules a sender follows, and this module implements:

- TLSA records count only when the validating resolver calls the answer
  secure; a bogus answer defers delivery (dnssec-invalid), an insecure one
  means no DANE (section 2.2);
- one usable record makes STARTTLS mandatory and authentication required
  (section 2.2); when none of the records matches, the session fails
  (tlsa-invalid);
- with DANE-EE the certificate's names and dates do not matter
  (section 3.1.1): only the key or certificate must match;
- with DANE-TA the chain from the leaf up to the matched trust anchor must be
  valid, dated and issued for the MX host name (sections 3.1.2 and 3.2.2);
- TLSA records that are all unusable leave STARTTLS mandatory without
  authentication, which is what Postfix does ("encrypt" level,
  Postfix TLS_README, DANE section).
"""

from __future__ import annotations

import datetime
import enum
import hashlib
from dataclasses import dataclass
from typing import Sequence

import dns.exception
import dns.flags
import dns.resolver
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .outcome import FailureClass
from .pki import KeyKind

C = FailureClass

USABLE_USAGES = (2, 3)
DIGEST_LENGTHS = {1: 32, 2: 64}


class DnssecStatus(str, enum.Enum):
    """What the sender's validating resolver concluded about an answer."""

    SECURE = "secure"
    INSECURE = "insecure"
    BOGUS = "bogus"

    def __str__(self) -> str:
        return self.value


class TlsaSource(str, enum.Enum):
    """The certificate of the host's chain that a scenario's TLSA record pins."""

    LEAF = "leaf"  # the certificate the MX presents
    INTERMEDIATE = "intermediate"  # the public intermediate that issued it
    ROOT = "root"  # the simulated public root (not sent by the server)


@dataclass(frozen=True)
class TlsaSpec:
    """One TLSA record as a scenario describes it.

    The association data comes from ``of`` (a certificate of the host's
    chain), from ``key`` (the public key of that key kind, which the server
    may or may not use: the old key of a rollover), or from ``data`` (hex,
    published as written).
    """

    usage: int = 3
    selector: int = 1
    matching: int = 1
    of: TlsaSource | None = TlsaSource.LEAF
    key: KeyKind | None = None
    data: str | None = None


@dataclass(frozen=True)
class DaneSpec:
    """A scenario's DANE set-up: the TLSA records and the DNSSEC status of their answer."""

    tlsa: tuple[TlsaSpec, ...] = ()
    dnssec: DnssecStatus = DnssecStatus.SECURE


@dataclass(frozen=True)
class Tlsa:
    """A TLSA record as published: the four fields."""

    usage: int
    selector: int
    matching: int
    data: bytes

    @property
    def usable(self) -> bool:
        """Unknown fields and wrong-size digests are unusable; so are PKIX usages (RFC 7672 section 3.1.3)."""
        if self.usage not in USABLE_USAGES or self.selector not in (0, 1) or self.matching not in (0, 1, 2):
            return False
        expected = DIGEST_LENGTHS.get(self.matching)
        return expected is None or len(self.data) == expected

    def presentation(self) -> str:
        return f"{self.usage} {self.selector} {self.matching} {self.data.hex()}"

    def matches(self, certificate: x509.Certificate) -> bool:
        return association(certificate, self.selector, self.matching) == self.data


def selected(certificate_or_key: x509.Certificate | PublicKeyTypes, selector: int) -> bytes:
    """Return what the selector covers: the DER certificate (0) or the DER SubjectPublicKeyInfo (1)."""
    if isinstance(certificate_or_key, x509.Certificate):
        if selector == 0:
            return certificate_or_key.public_bytes(serialization.Encoding.DER)
        certificate_or_key = certificate_or_key.public_key()
    return certificate_or_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)


def digest(data: bytes, matching: int) -> bytes:
    if matching == 1:
        return hashlib.sha256(data).digest()
    if matching == 2:
        return hashlib.sha512(data).digest()
    return data


def association(certificate_or_key: x509.Certificate | PublicKeyTypes, selector: int, matching: int) -> bytes:
    """Return the association data a TLSA record carries for a certificate or key."""
    return digest(selected(certificate_or_key, selector), matching)


# Looking up

@dataclass(frozen=True)
class TlsaLookup:
    """The TLSA RRset of one MX host as the validating resolver returned it."""

    name: str
    status: DnssecStatus
    records: tuple[Tlsa, ...] = ()
    error: str = ""

    @property
    def usable(self) -> tuple[Tlsa, ...]:
        return tuple(record for record in self.records if record.usable)


def tlsa_name(mx_host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{mx_host.rstrip('.')}"


def lookup_tlsa(mx_host: str, resolver: dns.resolver.Resolver) -> TlsaLookup:
    """Query ``_25._tcp.<mx_host>`` TLSA and tell secure, insecure and bogus answers apart.

    The AD bit says the resolver validated the answer (secure); SERVFAIL is
    how a validating resolver reports a bogus one. A secure NXDOMAIN or
    NODATA means "no TLSA records", which is not an error.
    """
    name = tlsa_name(mx_host)
    try:
        answer = resolver.resolve(name, "TLSA")
    except dns.resolver.NoNameservers as error:
        return TlsaLookup(name, DnssecStatus.BOGUS, error=f"TLSA look-up for {name} failed (SERVFAIL): {error}")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as error:
        status = DnssecStatus.SECURE if _authenticated(error.response()) else DnssecStatus.INSECURE
        return TlsaLookup(name, status)
    except dns.exception.DNSException as error:
        return TlsaLookup(name, DnssecStatus.BOGUS, error=f"TLSA look-up for {name} failed: {error}")
    status = DnssecStatus.SECURE if _authenticated(answer.response) else DnssecStatus.INSECURE
    records = tuple(Tlsa(r.usage, r.selector, r.mtype, bytes(r.cert)) for r in answer)
    return TlsaLookup(name, status, records)


def _authenticated(response: object) -> bool:
    flags = getattr(response, "flags", 0)
    return bool(flags & dns.flags.AD)


def is_secure(name: str, rtype: str, resolver: dns.resolver.Resolver) -> bool:
    """Return True when the answer for ``name`` carries the AD bit ("secure" in RFC 7672 section 2.1.1)."""
    try:
        answer = resolver.resolve(name, rtype)
    except dns.exception.DNSException:
        return False
    return _authenticated(answer.response)


# Matching

@dataclass(frozen=True)
class DaneFailure:
    """The reason a chain failed DANE authentication, as a failure class and message."""

    failure_class: FailureClass
    reason: str
    message: str


def authenticate(chain: Sequence[x509.Certificate], records: Sequence[Tlsa], names: Sequence[str],
                 now: datetime.datetime) -> DaneFailure | None:
    """Authenticate the chain the server sent against usable TLSA records; None when one matches.

    ``chain`` starts with the leaf. ``names`` are the reference identifiers
    for DANE-TA: the MX host name first (RFC 7672 section 3.2.2).
    """
    if not chain:
        return DaneFailure(C.TLSA_INVALID, "no-certificate", "the server sent no certificate")
    leaf = chain[0]
    ee = [record for record in records if record.usage == 3]
    if any(record.matches(leaf) for record in ee):
        return None  # DANE-EE: names and dates do not matter (section 3.1.1)

    ta_failure = None
    for record in (record for record in records if record.usage == 2):
        for depth, certificate in enumerate(chain[1:], start=1):
            if record.matches(certificate):
                ta_failure = _check_ta_chain(chain[:depth + 1], names, now)
                if ta_failure is None:
                    return None
    if ta_failure is not None:
        return ta_failure
    published = ", ".join(record.presentation()[:40] + "..." for record in records)
    return DaneFailure(C.TLSA_INVALID, "no-matching-tlsa",
                       f"none of the TLSA records ({published}) matches the certificate chain the server sent")


def _check_ta_chain(chain: Sequence[x509.Certificate], names: Sequence[str],
                    now: datetime.datetime) -> DaneFailure | None:
    """Check signatures, dates and the leaf's name from the leaf up to the trust anchor.

    NOTE: basicConstraints and keyUsage of the certificates above the leaf are
    not checked, unlike a full RFC 5280 path validation.
    """
    for child, parent in zip(chain, chain[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as error:
            return DaneFailure(C.VALIDATION_FAILURE, "bad-signature",
                               f"{child.subject.rfc4514_string()} is not signed by the TLSA trust anchor: {error!r}")
    for certificate in chain:
        if now > certificate.not_valid_after_utc:
            return DaneFailure(C.CERTIFICATE_EXPIRED, "expired",
                               f"{certificate.subject.rfc4514_string()} expired on "
                               f"{certificate.not_valid_after_utc:%Y-%m-%d}")
        if now < certificate.not_valid_before_utc:
            return DaneFailure(C.VALIDATION_FAILURE, "not-yet-valid",
                               f"{certificate.subject.rfc4514_string()} is not valid before "
                               f"{certificate.not_valid_before_utc:%Y-%m-%d}")
    if not any(_name_matches(chain[0], name) for name in names):
        return DaneFailure(C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch",
                           f"the leaf is not issued for {', '.join(names)} (DANE-TA checks names)")
    return None


def _name_matches(certificate: x509.Certificate, name: str) -> bool:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    wanted = name.rstrip(".").lower()
    for dns_name in san.get_values_for_type(x509.DNSName):
        candidate = dns_name.lower()
        if candidate == wanted:
            return True
        if candidate.startswith("*.") and wanted.partition(".")[2] == candidate[2:]:
            return True
    return False
