"""The stdlib certificate reader agrees with cryptography, field by field, and rejects bad DER cleanly.

cryptography is the reference: every test that reads a certificate compares
all of CertificateFacts with what cryptography reports for the same bytes.
The certificates come from four places. The simulated PKI gives every kind
of leaf and CA it issues, and cryptography's builder gives key types,
signature hashes, dates and names. A small DER writer below writes what
the builder rejects: SHA-1 signatures, dates before 1950, malformed
fields. The last source is this machine's trust store, where one exists. Property tests cover random
names and subjectAltNames, and damaged certificates: any truncated or
mutated certificate either parses or raises CertificateParseError.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import ipaddress
import ssl
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, x25519
from cryptography.utils import CryptographyDeprecationWarning
# cryptography's builder takes an attribute's string type only through this private enum.
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.certparse import CertificateFacts, CertificateParseError, parse_certificate
from harness.pki import CertificateSpec, Issuer, KeyKind, RevocationSource, SignatureHash, SimulatedPKI
from harness.pki import public_key as pki_public_key

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
UTC = datetime.timezone.utc
REPOSITORY = "http://127.0.0.1:1"
UNREACHABLE = "http://127.0.0.1:2"

FAST = settings(max_examples=60, deadline=None, derandomize=True)

ISSUER_KEY = ec.generate_private_key(ec.SECP256R1())
SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtp-tls-harness tests"),
    x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.test"),
])


# The reference: what cryptography reports

def reference_facts(der: bytes) -> dict[str, object]:
    """Read every CertificateFacts field with cryptography, as the reader should report it."""
    with warnings.catch_warnings():
        # Some trust store roots have a serial number that is not positive,
        # and some names have a commonName over 64 characters. cryptography
        # warns about both and still reads them, so the reference does too.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        warnings.filterwarnings("ignore", message="Attribute's length must be")
        certificate = x509.load_der_x509_certificate(der)
        return _reference_fields(certificate, der)


def _reference_fields(certificate: x509.Certificate, der: bytes) -> dict[str, object]:
    key_type, key_bits, curve = _reference_key(certificate)
    names = _extension_value(certificate, x509.SubjectAlternativeName)
    algorithm = certificate.signature_algorithm_oid
    hash_algorithm = certificate.signature_hash_algorithm
    return {
        "der": der,
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "subject_der": certificate.subject.public_bytes(),
        "issuer_der": certificate.issuer.public_bytes(),
        "common_names": tuple(attribute.value for attribute
                              in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)),
        "dns_names": tuple(names.get_values_for_type(x509.DNSName)) if names else (),
        "ip_addresses": tuple(str(address) for address in names.get_values_for_type(x509.IPAddress)) if names else (),
        "has_subject_alt_name": names is not None,
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
        "signature_algorithm": algorithm.dotted_string if algorithm._name == "Unknown OID" else algorithm._name,
        "signature_hash": hash_algorithm.name if hash_algorithm is not None else None,
        "crl_urls": _reference_crl_urls(certificate),
        "ocsp_urls": _reference_ocsp_urls(certificate),
    }


def _reference_key(certificate: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    return certificate.public_key_algorithm_oid.dotted_string, None, None


def _extension_value(certificate: x509.Certificate, kind: type) -> object | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _reference_crl_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    points = _extension_value(certificate, x509.CRLDistributionPoints) or []
    return tuple(name.value for point in points for name in point.full_name or []
                 if isinstance(name, x509.UniformResourceIdentifier))


def _reference_ocsp_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    access = _extension_value(certificate, x509.AuthorityInformationAccess) or []
    return tuple(description.access_location.value for description in access
                 if description.access_method == AuthorityInformationAccessOID.OCSP
                 and isinstance(description.access_location, x509.UniformResourceIdentifier))


def facts_as_dict(facts: CertificateFacts) -> dict[str, object]:
    return {item.name: getattr(facts, item.name) for item in dataclasses.fields(facts)}


def assert_matches_cryptography(der: bytes) -> CertificateFacts:
    facts = parse_certificate(der)
    assert facts_as_dict(facts) == reference_facts(der)
    return facts


# Certificates from cryptography's builder

def build_certificate(subject: x509.Name = SUBJECT, *, public_key: object = None, signing_key: object = ISSUER_KEY,
                      algorithm: hashes.HashAlgorithm | None = hashes.SHA256(),
                      not_before: datetime.datetime = NOW - datetime.timedelta(days=1),
                      not_after: datetime.datetime = NOW + datetime.timedelta(days=90),
                      extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
                      rsa_padding: padding.AsymmetricPadding | None = None) -> bytes:
    """Build and sign a certificate with cryptography, and return its DER."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(SUBJECT)
        .public_key(public_key or ISSUER_KEY.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    options = {"rsa_padding": rsa_padding} if rsa_padding is not None else {}
    certificate = builder.sign(signing_key, algorithm, **options)  # type: ignore[arg-type]
    return certificate.public_bytes(serialization.Encoding.DER)


def name_of(*attributes: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def san(*names: x509.GeneralName) -> tuple[tuple[x509.ExtensionType, bool], ...]:
    return ((x509.SubjectAlternativeName(list(names)), False),)


# A small DER writer for what the builder rejects (X.690)

def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + der_length(len(content)) + content


def der_sequence(*parts: bytes) -> bytes:
    return der(0x30, b"".join(parts))


def der_set(*parts: bytes) -> bytes:
    return der(0x31, b"".join(parts))


def der_integer(value: int) -> bytes:
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    content = b""
    for value in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        content += bytes(reversed(chunk))
    return der(0x06, content)


def der_name(*rdns: list[tuple[str, int, bytes]]) -> bytes:
    """Encode a Name from RDNs, each a list of (OID, value tag, value octets), in the order given."""
    return der_sequence(*[der_set(*[der_sequence(der_oid(oid), der(tag, value)) for oid, tag, value in rdn])
                          for rdn in rdns])


def der_extension(oid: str, value: bytes, critical: bool = False) -> bytes:
    flag = der(0x01, b"\xff") if critical else b""
    return der_sequence(der_oid(oid), flag, der(0x04, value))


def utc_time(text: str) -> bytes:
    return der(0x17, text.encode("ascii"))


def generalized_time(text: str) -> bytes:
    return der(0x18, text.encode("ascii"))


ECDSA_SHA256 = der_sequence(der_oid("1.2.840.10045.4.3.2"))
EC_PUBLIC_KEY_INFO = ISSUER_KEY.public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
PLAIN_NAME = der_name([("2.5.4.3", 0x0C, b"mx.example.test")])
ISSUER_NAME = der_name([("2.5.4.10", 0x0C, b"smtp-tls-harness test issuer")])
VERSION_3 = der(0xA0, der_integer(2))


def assemble_certificate(*, subject: bytes = PLAIN_NAME, issuer: bytes = ISSUER_NAME,
                         not_before: bytes = utc_time("300101000000Z"), not_after: bytes = utc_time("310101000000Z"),
                         public_key_info: bytes = EC_PUBLIC_KEY_INFO, algorithm: bytes = ECDSA_SHA256,
                         extensions: list[bytes] | None = None, version: bytes = VERSION_3,
                         serial: bytes = der_integer(4242), unique_identifiers: bytes = b"",
                         validity: bytes | None = None, tbs_tail: bytes = b"", signature_value: bytes | None = None,
                         outer_tail: bytes = b"", sign=None) -> bytes:  # type: ignore[no-untyped-def]
    """Write a certificate field by field and sign it with ``sign``, by default ECDSA with SHA-256.

    ``tbs_tail`` and ``outer_tail`` append raw elements to the TBS and to the
    certificate; ``signature_value`` replaces the whole signature BIT STRING.
    """
    parts = [version, serial, algorithm, issuer, validity or der_sequence(not_before, not_after),
             subject, public_key_info, unique_identifiers]
    if extensions is not None:
        parts.append(der(0xA3, der_sequence(*extensions)))
    tbs = der_sequence(*parts, tbs_tail)
    if signature_value is None:
        signature = sign(tbs) if sign else ISSUER_KEY.sign(tbs, ec.ECDSA(hashes.SHA256()))
        signature_value = der(0x03, b"\x00" + signature)
    return der_sequence(tbs, algorithm, signature_value, outer_tail)


# The simulated PKI: every kind of leaf and CA it issues

@pytest.fixture(scope="module")
def pki():
    with SimulatedPKI(REPOSITORY, now=NOW, unreachable_url=UNREACHABLE) as running:
        yield running


PKI_LEAVES = {
    "rsa2048": CertificateSpec(names=("mx.a.test",)),
    "rsa1024": CertificateSpec(names=("mx.a.test",), key=KeyKind.RSA1024),
    "ecdsa-p256": CertificateSpec(names=("mx.a.test",), key=KeyKind.ECDSA_P256),
    "sha1-signed": CertificateSpec(names=("mx.a.test",), issuer=Issuer.PUBLIC_RSA, signature=SignatureHash.SHA1),
    "rsa-issuer-sha256": CertificateSpec(names=("mx.a.test",), issuer=Issuer.PUBLIC_RSA),
    "self-signed": CertificateSpec(names=("mx.a.test",), issuer=Issuer.SELF),
    "self-signed-sha1": CertificateSpec(names=("mx.a.test",), issuer=Issuer.SELF, signature=SignatureHash.SHA1),
    "untrusted-root": CertificateSpec(names=("mx.a.test",), issuer=Issuer.UNTRUSTED),
    "expired": CertificateSpec(names=("mx.a.test",), not_before_days=-90, not_after_days=-1),
    "not-yet-valid": CertificateSpec(names=("mx.a.test",), not_before_days=1, not_after_days=90),
    "cn-only": CertificateSpec(names=("mx.a.test",), subject_alt_name=False),
    "wildcard": CertificateSpec(names=("*.a.test", "a.test")),
    "other-common-name": CertificateSpec(names=("mx.a.test", "mx2.a.test"), common_name="legacy.a.test"),
    "ocsp": CertificateSpec(names=("mx.a.test",), revocation=RevocationSource.OCSP),
    "crl-unreachable": CertificateSpec(names=("mx.a.test",), revocation=RevocationSource.CRL_UNREACHABLE),
    "revoked": CertificateSpec(names=("mx.a.test",), revoked=True),
}


@pytest.mark.parametrize("spec", PKI_LEAVES.values(), ids=PKI_LEAVES.keys())
def test_pki_leaf_matches_cryptography(pki, spec):
    issued = pki.issue(spec)

    assert_matches_cryptography(issued.certificate.public_bytes(serialization.Encoding.DER))


def _pki_facts(pki: SimulatedPKI, spec: CertificateSpec) -> CertificateFacts:
    return parse_certificate(pki.issue(spec).certificate.public_bytes(serialization.Encoding.DER))


def test_pki_sha1_leaf_names_sha1(pki):
    weak = _pki_facts(pki, PKI_LEAVES["sha1-signed"])
    control = _pki_facts(pki, PKI_LEAVES["rsa-issuer-sha256"])

    assert weak.signature_algorithm == "sha1WithRSAEncryption"
    assert weak.signature_hash == "sha1"
    assert control.signature_algorithm == "sha256WithRSAEncryption"
    assert control.signature_hash == "sha256"


def test_pki_cn_only_leaf_has_no_san(pki):
    cn_only = _pki_facts(pki, PKI_LEAVES["cn-only"])
    control = _pki_facts(pki, PKI_LEAVES["rsa2048"])

    assert cn_only.has_subject_alt_name is False
    assert cn_only.dns_names == ()
    assert cn_only.common_names == ("mx.a.test",)
    assert control.has_subject_alt_name is True
    assert control.dns_names == ("mx.a.test",)


def test_pki_leaf_names_keep_their_order(pki):
    wildcard = _pki_facts(pki, PKI_LEAVES["wildcard"])
    legacy = _pki_facts(pki, PKI_LEAVES["other-common-name"])

    assert wildcard.dns_names == ("*.a.test", "a.test")
    assert legacy.common_names == ("legacy.a.test",)
    assert legacy.dns_names == ("mx.a.test", "mx2.a.test")


def test_pki_leaf_revocation_pointers(pki):
    crl = _pki_facts(pki, PKI_LEAVES["rsa2048"])
    ocsp = _pki_facts(pki, PKI_LEAVES["ocsp"])
    unreachable = _pki_facts(pki, PKI_LEAVES["crl-unreachable"])

    assert crl.crl_urls == (pki.crl_url("public-intermediate"),)
    assert crl.ocsp_urls == ()
    assert ocsp.ocsp_urls == (pki.ocsp_url("public-intermediate"),)
    assert ocsp.crl_urls == ()
    assert unreachable.crl_urls == (f"{UNREACHABLE}/crl/public-intermediate.crl",)


def test_pki_leaf_dates_follow_the_fixed_clock(pki):
    expired = _pki_facts(pki, PKI_LEAVES["expired"])
    future = _pki_facts(pki, PKI_LEAVES["not-yet-valid"])

    assert expired.not_before == NOW - datetime.timedelta(days=90)
    assert expired.not_after == NOW - datetime.timedelta(days=1)
    assert future.not_before == NOW + datetime.timedelta(days=1)
    assert future.not_after.tzinfo is UTC


def test_pki_leaf_keys_are_described(pki):
    assert _pki_facts(pki, PKI_LEAVES["rsa2048"]).describe_key() == "RSA 2048 bits"
    assert _pki_facts(pki, PKI_LEAVES["rsa1024"]).describe_key() == "RSA 1024 bits"
    assert _pki_facts(pki, PKI_LEAVES["ecdsa-p256"]).describe_key() == "EC secp256r1"


def test_pki_self_signed_leaf_is_self_issued(pki):
    self_signed = _pki_facts(pki, PKI_LEAVES["self-signed"])
    control = _pki_facts(pki, PKI_LEAVES["rsa2048"])

    assert self_signed.self_issued is True
    assert self_signed.issuer == self_signed.subject
    assert control.self_issued is False
    assert control.issuer == pki.intermediate.certificate.subject.rfc4514_string()


@pytest.mark.parametrize("authority", ["root", "intermediate", "untrusted_root", "rsa_intermediate"])
def test_pki_ca_certificate_matches_cryptography(pki, authority):
    certificate = getattr(pki, authority).certificate
    facts = assert_matches_cryptography(certificate.public_bytes(serialization.Encoding.DER))

    assert facts.self_issued is authority.endswith("root")


# Key types

def _rsa_public_key(bits: int) -> rsa.RSAPublicKey:
    # RSA-4096 key generation takes about a second. The reader only reads the
    # modulus length, so an odd modulus of that size replaces a real key.
    if bits == 4096:
        return rsa.RSAPublicNumbers(65537, (1 << 4095) | 0xF00D1).public_key()
    kind = KeyKind.RSA1024 if bits == 1024 else KeyKind.RSA2048
    return pki_public_key(kind)  # type: ignore[return-value]


@functools.lru_cache(maxsize=None)
def rsa_signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.lru_cache(maxsize=None)
def _dsa_public_key() -> dsa.DSAPublicKey:
    return dsa.generate_private_key(1024).public_key()


KEY_CASES = {
    "rsa1024": (lambda: _rsa_public_key(1024), "RSA 1024 bits"),
    "rsa2048": (lambda: _rsa_public_key(2048), "RSA 2048 bits"),
    "rsa4096": (lambda: _rsa_public_key(4096), "RSA 4096 bits"),
    "p256": (lambda: ec.generate_private_key(ec.SECP256R1()).public_key(), "EC secp256r1"),
    "p384": (lambda: ec.generate_private_key(ec.SECP384R1()).public_key(), "EC secp384r1"),
    "p521": (lambda: ec.generate_private_key(ec.SECP521R1()).public_key(), "EC secp521r1"),
    "secp224r1": (lambda: ec.generate_private_key(ec.SECP224R1()).public_key(), "EC secp224r1"),
    "secp256k1": (lambda: ec.generate_private_key(ec.SECP256K1()).public_key(), "EC secp256k1"),
    "brainpool-p256": (lambda: ec.generate_private_key(ec.BrainpoolP256R1()).public_key(), "EC brainpoolP256r1"),
    "ed25519": (lambda: ed25519.Ed25519PrivateKey.generate().public_key(), "Ed25519"),
    "ed448": (lambda: ed448.Ed448PrivateKey.generate().public_key(), "Ed448"),
    "dsa1024": (_dsa_public_key, "DSA 1024 bits"),
}


@pytest.mark.parametrize(("make_key", "description"), KEY_CASES.values(), ids=KEY_CASES.keys())
def test_key_type_matches_cryptography(make_key, description):
    facts = assert_matches_cryptography(build_certificate(public_key=make_key()))

    assert facts.describe_key() == description


def test_x25519_key_is_named_by_its_oid():
    key = x25519.X25519PrivateKey.generate().public_key()

    facts = assert_matches_cryptography(build_certificate(public_key=key))

    assert facts.key_type == "1.3.101.110"
    assert facts.describe_key() == "1.3.101.110"


def test_rsa_pss_key_info_is_an_rsa_key():
    key_info = _rsa_public_key(2048).public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_info[:2] == b"\x30\x82"  # a two-octet length, replaced below
    rsa_encryption = der_sequence(der_oid("1.2.840.113549.1.1.1"), der(0x05, b""))
    pss_key_info = key_info.replace(rsa_encryption, der_sequence(der_oid("1.2.840.113549.1.1.10")))
    pss_key_info = der(0x30, pss_key_info[4:])  # the shorter AlgorithmIdentifier shrinks the outer length

    facts = assert_matches_cryptography(assemble_certificate(public_key_info=pss_key_info))

    assert facts.describe_key() == "RSA 2048 bits"


def test_ec_explicit_parameters_have_no_curve():
    point = ISSUER_KEY.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
    explicit = der_sequence(der_integer(1), der_sequence(der_oid("1.2.840.10045.1.1"), der_integer(7)))
    key_info = der_sequence(der_sequence(der_oid("1.2.840.10045.2.1"), explicit), der(0x03, b"\x00" + point))

    facts = parse_certificate(assemble_certificate(public_key_info=key_info))

    assert (facts.key_type, facts.key_bits, facts.curve) == ("EC", None, None)
    assert facts.describe_key() == "EC"


# Signature algorithms and hashes

SIGNATURE_CASES = {
    "rsa-sha224": (rsa_signing_key, hashes.SHA224(), None),
    "rsa-sha256": (rsa_signing_key, hashes.SHA256(), None),
    "rsa-sha384": (rsa_signing_key, hashes.SHA384(), None),
    "rsa-sha512": (rsa_signing_key, hashes.SHA512(), None),
    "ecdsa-sha224": (lambda: ISSUER_KEY, hashes.SHA224(), None),
    "ecdsa-sha256": (lambda: ISSUER_KEY, hashes.SHA256(), None),
    "ecdsa-sha384": (lambda: ISSUER_KEY, hashes.SHA384(), None),
    "ecdsa-sha512": (lambda: ISSUER_KEY, hashes.SHA512(), None),
    "rsa-pss-sha256": (rsa_signing_key, hashes.SHA256(),
                       padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)),
    "rsa-pss-sha384": (rsa_signing_key, hashes.SHA384(),
                       padding.PSS(padding.MGF1(hashes.SHA384()), padding.PSS.DIGEST_LENGTH)),
    "rsa-pss-sha512": (rsa_signing_key, hashes.SHA512(),
                       padding.PSS(padding.MGF1(hashes.SHA512()), 32)),
    "rsa-sha3-256": (rsa_signing_key, hashes.SHA3_256(), None),
    "ed25519": (lambda: ed25519.Ed25519PrivateKey.generate(), None, None),
    "ed448": (lambda: ed448.Ed448PrivateKey.generate(), None, None),
    "dsa-sha256": (lambda: dsa.generate_private_key(1024), hashes.SHA256(), None),
}


@pytest.mark.parametrize(("make_key", "algorithm", "rsa_padding"), SIGNATURE_CASES.values(), ids=SIGNATURE_CASES.keys())
def test_signature_algorithm_matches_cryptography(make_key, algorithm, rsa_padding):
    der_bytes = build_certificate(signing_key=make_key(), algorithm=algorithm, rsa_padding=rsa_padding)

    facts = assert_matches_cryptography(der_bytes)

    assert facts.signature_hash == (algorithm.name if algorithm else None)


def _sha1_signed(private_key, algorithm_oid: str, parameters: bytes, sign) -> bytes:  # type: ignore[no-untyped-def]
    # cryptography 50 raises when asked to sign a certificate with SHA-1, so
    # the TBS is written here and signed with SHA-1 directly.
    algorithm = der_sequence(der_oid(algorithm_oid), parameters)
    key_info = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    return assemble_certificate(public_key_info=key_info, algorithm=algorithm, sign=sign)


def test_sha1_rsa_signature_matches_cryptography():
    key = rsa_signing_key()
    certificate = _sha1_signed(key, "1.2.840.113549.1.1.5", der(0x05, b""),
                               lambda tbs: key.sign(tbs, padding.PKCS1v15(), hashes.SHA1()))

    facts = assert_matches_cryptography(certificate)

    assert (facts.signature_algorithm, facts.signature_hash) == ("sha1WithRSAEncryption", "sha1")


def test_sha1_ecdsa_signature_matches_cryptography():
    certificate = _sha1_signed(ISSUER_KEY, "1.2.840.10045.4.1", b"",
                               lambda tbs: ISSUER_KEY.sign(tbs, ec.ECDSA(hashes.SHA1())))

    facts = assert_matches_cryptography(certificate)

    assert (facts.signature_algorithm, facts.signature_hash) == ("ecdsa-with-SHA1", "sha1")


def test_md5_rsa_signature_matches_cryptography():
    algorithm = der_sequence(der_oid("1.2.840.113549.1.1.4"), der(0x05, b""))

    facts = assert_matches_cryptography(assemble_certificate(algorithm=algorithm))

    assert (facts.signature_algorithm, facts.signature_hash) == ("md5WithRSAEncryption", "md5")


def test_pss_without_hash_parameter_defaults_to_sha1():
    algorithm = der_sequence(der_oid("1.2.840.113549.1.1.10"), der_sequence())

    facts = assert_matches_cryptography(assemble_certificate(algorithm=algorithm))

    assert (facts.signature_algorithm, facts.signature_hash) == ("rsassaPss", "sha1")


def test_unknown_signature_algorithm_is_its_oid():
    # cryptography raises UnsupportedAlgorithm for this hash; the reader has none to report.
    facts = parse_certificate(assemble_certificate(algorithm=der_sequence(der_oid("1.2.3.4.5"))))

    assert facts.signature_algorithm == "1.2.3.4.5"
    assert facts.signature_hash is None


# Validity dates (RFC 5280 section 4.1.2.5)

@pytest.mark.parametrize("moment", [
    datetime.datetime(1950, 1, 1, tzinfo=UTC),
    datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime.datetime(2000, 1, 1, tzinfo=UTC),
    datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime.datetime(2050, 1, 1, tzinfo=UTC),
    datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
], ids=str)
def test_builder_dates_match_cryptography(moment):
    facts = assert_matches_cryptography(build_certificate(not_before=moment, not_after=moment))

    assert facts.not_before == moment
    assert facts.not_after == moment


def test_builder_rejects_dates_before_1950():
    # UTCTime cannot carry them, and cryptography's builder rejects them.
    # The next test writes them as GeneralizedTime by hand.
    with pytest.raises(ValueError, match="1950"):
        build_certificate(not_before=datetime.datetime(1949, 12, 31, tzinfo=UTC))


@pytest.mark.parametrize(("encoded", "moment"), [
    (utc_time("491231235959Z"), datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (utc_time("500101000000Z"), datetime.datetime(1950, 1, 1, tzinfo=UTC)),
    (utc_time("000229120000Z"), datetime.datetime(2000, 2, 29, 12, tzinfo=UTC)),
    (generalized_time("19491231235959Z"), datetime.datetime(1949, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (generalized_time("00010101000000Z"), datetime.datetime(1, 1, 1, tzinfo=UTC)),
    (generalized_time("20240229000000Z"), datetime.datetime(2024, 2, 29, tzinfo=UTC)),
], ids=["utc-49-is-2049", "utc-50-is-1950", "utc-leap-day", "generalized-1949", "generalized-year-1",
        "generalized-inside-utc-range"])
def test_written_dates_match_cryptography(encoded, moment):
    facts = assert_matches_cryptography(assemble_certificate(not_before=encoded))

    assert facts.not_before == moment


BAD_DATES = {
    "utc-without-seconds": utc_time("3001010000Z"),
    "utc-with-offset": utc_time("300101000000+0100"),
    "utc-lowercase-z": utc_time("300101000000z"),
    "utc-fraction": utc_time("300101000000.5Z"),
    "utc-february-30": utc_time("300230000000Z"),
    "utc-hour-24": utc_time("300101240000Z"),
    "utc-leap-second": utc_time("300101235960Z"),
    "utc-arabic-digit": der(0x17, "30010100000\u0660Z".encode()),
    "utc-sign": utc_time("+00101000000Z"),
    "generalized-fraction": generalized_time("20300101000000.5Z"),
    "generalized-without-z": generalized_time("20300101000000"),
    "generalized-year-0": generalized_time("00000101000000Z"),
    "generalized-not-leap": generalized_time("20230229000000Z"),
    "wrong-type": der(0x0C, b"300101000000Z"),
}


@pytest.mark.parametrize("encoded", BAD_DATES.values(), ids=BAD_DATES.keys())
def test_malformed_date_names_the_field(encoded):
    with pytest.raises(CertificateParseError) as caught:
        parse_certificate(assemble_certificate(not_before=encoded))

    assert caught.value.field == "tbsCertificate.validity.notBefore"


# Names (RFC 4514 strings)

NAME_CASES = {
    "short-names": name_of((NameOID.COUNTRY_NAME, "DE"), (NameOID.STATE_OR_PROVINCE_NAME, "Berlin"),
                           (NameOID.LOCALITY_NAME, "Berlin"), (NameOID.STREET_ADDRESS, "Main 1"),
                           (NameOID.ORGANIZATION_NAME, "Org"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Unit"),
                           (NameOID.DOMAIN_COMPONENT, "test"), (NameOID.USER_ID, "jdoe"),
                           (NameOID.COMMON_NAME, "mx.a.test")),
    "email-address": name_of((NameOID.EMAIL_ADDRESS, "postmaster@a.test"), (NameOID.COMMON_NAME, "mx")),
    "other-known-types": name_of((NameOID.SERIAL_NUMBER, "1234"), (NameOID.TITLE, "Admin"),
                                 (NameOID.GIVEN_NAME, "Jo"), (NameOID.SURNAME, "Doe"),
                                 (NameOID.ORGANIZATION_IDENTIFIER, "VATDE-1"),
                                 (NameOID.BUSINESS_CATEGORY, "Private Organization"),
                                 (NameOID.JURISDICTION_COUNTRY_NAME, "DE")),
    "unknown-oid": name_of((ObjectIdentifier("1.3.6.1.4.1.99999.7"), "value"), (NameOID.COMMON_NAME, "x")),
    "several-common-names": name_of((NameOID.COMMON_NAME, "first"), (NameOID.ORGANIZATION_NAME, "o"),
                                    (NameOID.COMMON_NAME, "second")),
    "escaped-specials": name_of((NameOID.COMMON_NAME, 'a\\b"c+d,e;f<g>h=i')),
    "escaped-nul": name_of((NameOID.ORGANIZATION_NAME, "a\x00b")),
    "leading-hash": name_of((NameOID.ORGANIZATION_NAME, "#1 mail")),
    "hash-inside": name_of((NameOID.ORGANIZATION_NAME, "mail #1")),
    "leading-space": name_of((NameOID.ORGANIZATION_NAME, " mail")),
    "trailing-space": name_of((NameOID.ORGANIZATION_NAME, "mail ")),
    "single-space": name_of((NameOID.ORGANIZATION_NAME, " ")),
    "two-spaces": name_of((NameOID.ORGANIZATION_NAME, "  ")),
    "only-hash": name_of((NameOID.ORGANIZATION_NAME, "#")),
    "empty-value": name_of((NameOID.ORGANIZATION_NAME, "")),
    "backslash-then-space": name_of((NameOID.ORGANIZATION_NAME, "a\\ ")),
    "non-ascii": name_of((NameOID.ORGANIZATION_NAME, "Müller & Søn 郵便 😀")),
    "empty-name": x509.Name([]),
    "multi-valued-rdn": x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zz"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, "mx+1"),
                                        x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "unit")]),
    ]),
}


@pytest.mark.parametrize("subject", NAME_CASES.values(), ids=NAME_CASES.keys())
def test_name_matches_cryptography(subject):
    facts = assert_matches_cryptography(build_certificate(subject))

    assert facts.subject_der == subject.public_bytes()


def test_multi_valued_rdn_keeps_der_order():
    rdn = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zz"),
                                          x509.NameAttribute(NameOID.COMMON_NAME, "a")])

    facts = parse_certificate(build_certificate(x509.Name([rdn])))

    # DER sorts a SET OF by encoding, and the shorter CN attribute sorts first.
    assert facts.subject == "CN=a+O=zz"


def test_escaping_follows_rfc4514():
    subject = name_of((NameOID.ORGANIZATION_NAME, " #x"), (NameOID.COMMON_NAME, '#a,b+"c" '))

    facts = parse_certificate(build_certificate(subject))

    assert facts.subject == 'CN=\\#a\\,b\\+\\"c\\"\\ ,O=\\ #x'
    assert facts.common_names == ('#a,b+"c" ',)


STRING_TYPES = {
    "utf8": (_ASN1Type.UTF8String, "mail Ü"),
    "printable": (_ASN1Type.PrintableString, "Mail (1) +,-./:=?"),
    "ia5": (_ASN1Type.IA5String, "mail@a.test"),
    "bmp": (_ASN1Type.BMPString, "Müller 郵便"),
    "bmp-surrogate-pair": (_ASN1Type.BMPString, "mail 😀"),
    "universal": (_ASN1Type.UniversalString, "Müller 😀"),
    "teletex-utf8": (_ASN1Type.T61String, "Müller"),
    "visible": (_ASN1Type.VisibleString, "mail"),
    "numeric": (_ASN1Type.NumericString, "12345"),
    "octet-string": (_ASN1Type.OctetString, "bytes"),
}


@pytest.mark.parametrize(("string_type", "value"), STRING_TYPES.values(), ids=STRING_TYPES.keys())
def test_string_type_matches_cryptography(string_type, value):
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, value, _type=string_type),
                         x509.NameAttribute(NameOID.COMMON_NAME, value, _type=string_type)])

    facts = assert_matches_cryptography(build_certificate(subject))

    assert facts.common_names == (value,)


def test_unique_identifier_bit_string_matches_cryptography():
    subject = x509.Name([x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\x9f", _type=_ASN1Type.BitString),
                         x509.NameAttribute(NameOID.COMMON_NAME, "x")])

    facts = assert_matches_cryptography(build_certificate(subject))

    assert facts.subject == "CN=x,2.5.4.45=#009f"


def test_teletex_latin1_value_is_read_as_latin1():
    # cryptography 50 rejects TeletexString bytes that are not UTF-8; the
    # reader keeps such a legacy name readable.
    subject = der_name([("2.5.4.10", 0x14, "Müller".encode("latin-1"))])

    facts = parse_certificate(assemble_certificate(subject=subject))

    assert facts.subject == "O=Müller"


def test_value_without_string_form_uses_hex_form():
    # RFC 4514 section 2.4: "#" and the hex of the value's whole encoding.
    subject = der_name([("1.2.3.4", 0x02, b"\x05")], [("2.5.4.3", 0x0C, b"x")])

    facts = parse_certificate(assemble_certificate(subject=subject))

    assert facts.subject == "CN=x,1.2.3.4=#020105"
    assert facts.common_names == ("x",)


def test_subject_and_issuer_der_are_the_encoded_names():
    issuer = der_name([("2.5.4.10", 0x13, b"Issuer")])

    facts = parse_certificate(assemble_certificate(issuer=issuer))

    assert facts.subject_der == PLAIN_NAME
    assert facts.issuer_der == issuer
    assert facts.self_issued is False


# Extensions

def test_subject_alt_name_kinds_match_cryptography():
    names = san(x509.DNSName("mx.a.test"), x509.RFC822Name("postmaster@a.test"),
                x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
                x509.UniformResourceIdentifier("https://a.test/"), x509.DNSName("*.a.test"),
                x509.IPAddress(ipaddress.ip_address("2001:db8::25")),
                x509.IPAddress(ipaddress.ip_address("::ffff:192.0.2.1")),
                x509.DirectoryName(name_of((NameOID.COMMON_NAME, "dir"))),
                x509.RegisteredID(ObjectIdentifier("1.2.3.4")),
                x509.OtherName(ObjectIdentifier("1.3.6.1.5.5.7.8.9"), der(0x0C, b"u@a.test")))

    facts = assert_matches_cryptography(build_certificate(extensions=names))

    assert facts.dns_names == ("mx.a.test", "*.a.test")
    assert facts.ip_addresses == ("192.0.2.7", "2001:db8::25", str(ipaddress.ip_address("::ffff:192.0.2.1")))


def test_revocation_pointers_match_cryptography():
    uri = x509.UniformResourceIdentifier
    points = x509.CRLDistributionPoints([
        x509.DistributionPoint([uri("http://127.0.0.1/a.crl"), x509.DNSName("crl.a.test"),
                                uri("ldap://127.0.0.1/cn=a")], None, None, None),
        x509.DistributionPoint(None, x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "r")]),
                               frozenset({x509.ReasonFlags.key_compromise}), None),
        x509.DistributionPoint(None, None, None, [x509.DirectoryName(name_of((NameOID.COMMON_NAME, "crl issuer")))]),
        x509.DistributionPoint([uri("http://127.0.0.1/b.crl")], None, None, None),
    ])
    access = x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, uri("http://127.0.0.1/ca.der")),
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, uri("http://127.0.0.1/ocsp")),
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.DNSName("ocsp.a.test")),
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, uri("http://127.0.0.1/ocsp2")),
    ])

    facts = assert_matches_cryptography(build_certificate(extensions=((points, False), (access, False))))

    assert facts.crl_urls == ("http://127.0.0.1/a.crl", "ldap://127.0.0.1/cn=a", "http://127.0.0.1/b.crl")
    assert facts.ocsp_urls == ("http://127.0.0.1/ocsp", "http://127.0.0.1/ocsp2")


def test_unknown_critical_extension_is_skipped():
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\xde\xad")
    extensions = ((unknown, True),) + san(x509.DNSName("mx.a.test"))

    facts = assert_matches_cryptography(build_certificate(extensions=extensions))

    assert facts.dns_names == ("mx.a.test",)


def test_version_1_certificate_without_extensions():
    facts = assert_matches_cryptography(assemble_certificate(version=b""))

    assert facts.has_subject_alt_name is False


def test_unique_identifiers_are_skipped():
    identifiers = der(0x81, b"\x00\x01") + der(0x82, b"\x00\x02")
    names = [der_extension("2.5.29.17", der_sequence(der(0x82, b"mx.a.test")))]

    facts = assert_matches_cryptography(assemble_certificate(unique_identifiers=identifiers, extensions=names))

    assert facts.dns_names == ("mx.a.test",)


# Malformed certificates: each raises CertificateParseError naming the field

SAN_EXTENSION = der_extension("2.5.29.17", der_sequence(der(0x82, b"mx.a.test")))
VALID = assemble_certificate(extensions=[SAN_EXTENSION])
OCSP_METHOD = der_oid("1.3.6.1.5.5.7.48.1")
KEY_FIELD = "tbsCertificate.subjectPublicKeyInfo"


def outer_content(certificate: bytes) -> bytes:
    """Return the content octets of the outer SEQUENCE (the test DER writer uses the long form here)."""
    return certificate[2 + (certificate[1] & 0x7F):]


def with_extension(oid: str, value: bytes) -> bytes:
    return assemble_certificate(extensions=[der_extension(oid, value)])


def with_subject_value(tag: int, value: bytes) -> bytes:
    return assemble_certificate(subject=der_name([("2.5.4.10", tag, value)]))


def with_key_info(algorithm: bytes, key: bytes) -> bytes:
    return assemble_certificate(public_key_info=der_sequence(algorithm, der(0x03, b"\x00" + key)))


RSA_ALGORITHM = der_sequence(der_oid("1.2.840.113549.1.1.1"), der(0x05, b""))

MALFORMED = {
    # The outer structure
    "empty-input": (b"", "certificate"),
    "not-a-sequence": (der(0x31, outer_content(VALID)), "certificate"),
    "trailing-octet": (VALID + b"\x00", "certificate"),
    "indefinite-length": (b"\x30\x80" + outer_content(VALID) + b"\x00\x00", "certificate"),
    "length-with-leading-zero": (b"\x30\x83\x00" + VALID[2:], "certificate"),
    "length-field-too-long": (b"\x30\x85\x00\x00\x00\x01\x00", "certificate"),
    "truncated": (VALID[:-1], "certificate"),
    "fourth-element": (assemble_certificate(outer_tail=der(0x05, b"")), "certificate"),
    "signature-unused-bits-set": (assemble_certificate(signature_value=der(0x03, b"\x01\x01")), "signatureValue"),
    "signature-unused-count-8": (assemble_certificate(signature_value=der(0x03, b"\x08\x00")), "signatureValue"),
    "signature-empty-bit-string": (assemble_certificate(signature_value=der(0x03, b"")), "signatureValue"),
    "algorithm-three-elements": (assemble_certificate(
        algorithm=der_sequence(der_oid("1.2.840.10045.4.3.2"), der(0x05, b""), der(0x05, b""))),
        "tbsCertificate.signature"),
    # TBSCertificate
    "short-length-in-long-form": (assemble_certificate(serial=b"\x02\x81\x01\x05"), "tbsCertificate"),
    "explicit-version-1": (assemble_certificate(version=der(0xA0, der_integer(0))), "tbsCertificate.version"),
    "version-4": (assemble_certificate(version=der(0xA0, der_integer(3))), "tbsCertificate.version"),
    "serial-not-minimal": (assemble_certificate(serial=der(0x02, b"\x00\x05")), "tbsCertificate.serialNumber"),
    "serial-empty": (assemble_certificate(serial=der(0x02, b"")), "tbsCertificate.serialNumber"),
    "validity-one-time": (assemble_certificate(validity=der_sequence(utc_time("300101000000Z"))),
                          "tbsCertificate.validity"),
    "missing-key-info": (assemble_certificate(public_key_info=b""), KEY_FIELD),
    "element-after-extensions": (assemble_certificate(extensions=[SAN_EXTENSION], tbs_tail=der(0xA4, b"")),
                                 "tbsCertificate"),
    "unique-id-after-extensions": (assemble_certificate(extensions=[SAN_EXTENSION], tbs_tail=der(0x81, b"\x00")),
                                   "tbsCertificate"),
    # Names
    "printable-with-at-sign": (with_subject_value(0x13, b"a@b"), "tbsCertificate.subject RDN 1 O"),
    "utf8-invalid": (with_subject_value(0x0C, b"\xff"), "tbsCertificate.subject RDN 1 O"),
    "utf8-surrogate": (with_subject_value(0x0C, b"\xed\xa0\x80"), "tbsCertificate.subject RDN 1 O"),
    "ia5-not-utf8": (with_subject_value(0x16, b"\xe9"), "tbsCertificate.subject RDN 1 O"),
    "bmp-odd-length": (with_subject_value(0x1E, b"\x00a\x00"), "tbsCertificate.subject RDN 1 O"),
    "bmp-lone-surrogate": (with_subject_value(0x1E, b"\xd8\x00"), "tbsCertificate.subject RDN 1 O"),
    "universal-surrogate": (with_subject_value(0x1C, b"\x00\x00\xd8\x00"), "tbsCertificate.subject RDN 1 O"),
    "universal-beyond-unicode": (with_subject_value(0x1C, b"\x00\x11\x00\x00"), "tbsCertificate.subject RDN 1 O"),
    "universal-bad-length": (with_subject_value(0x1C, b"\x00\x00\x41"), "tbsCertificate.subject RDN 1 O"),
    "high-tag-number": (with_subject_value(0x1F, b"\x1fab"), "tbsCertificate.subject RDN 1"),
    "rdn-out-of-order": (assemble_certificate(subject=der_name([("2.5.4.10", 0x0C, b"zz"), ("2.5.4.3", 0x0C, b"a")])),
                         "tbsCertificate.subject RDN 1"),
    "empty-rdn": (assemble_certificate(subject=der_sequence(der_set())), "tbsCertificate.subject RDN 1"),
    "rdn-not-a-set": (assemble_certificate(subject=der_sequence(der_sequence())), "tbsCertificate.subject RDN 1"),
    "attribute-three-elements": (assemble_certificate(subject=der_sequence(der_set(der_sequence(
        der_oid("2.5.4.3"), der(0x0C, b"a"), der(0x0C, b"b"))))), "tbsCertificate.subject RDN 1"),
    "issuer-attribute-oid-padded": (assemble_certificate(issuer=der_sequence(der_set(der_sequence(
        der(0x06, b"\x55\x80\x04"), der(0x0C, b"a"))))), "tbsCertificate.issuer RDN 1"),
    # Extensions
    "oid-padding-octet": (assemble_certificate(extensions=[der_sequence(der(0x06, b"\x2a\x80\x01"), der(0x04, b""))]),
                          "tbsCertificate.extensions extension 1"),
    "oid-unterminated": (assemble_certificate(extensions=[der_sequence(der(0x06, b"\x2a\x81"), der(0x04, b""))]),
                         "tbsCertificate.extensions extension 1"),
    "oid-empty": (assemble_certificate(extensions=[der_sequence(der(0x06, b""), der(0x04, b""))]),
                  "tbsCertificate.extensions extension 1"),
    "duplicate-extension": (assemble_certificate(extensions=[SAN_EXTENSION, SAN_EXTENSION]),
                            "tbsCertificate.extensions extension 2"),
    "critical-false-encoded": (assemble_certificate(extensions=[der_sequence(
        der_oid("1.2.3"), der(0x01, b"\x00"), der(0x04, b""))]), "tbsCertificate.extensions extension 1 (1.2.3) critical"),
    "critical-not-ff": (assemble_certificate(extensions=[der_sequence(
        der_oid("1.2.3"), der(0x01, b"\x01"), der(0x04, b""))]), "tbsCertificate.extensions extension 1 (1.2.3) critical"),
    "extension-value-not-octet-string": (assemble_certificate(extensions=[der_sequence(
        der_oid("1.2.3"), der(0x03, b"\x00"))]), "tbsCertificate.extensions extension 1 (1.2.3) extnValue"),
    "extensions-not-a-sequence": (assemble_certificate(tbs_tail=der(0xA3, der_set())), "tbsCertificate.extensions"),
    "san-ip-five-octets": (with_extension("2.5.29.17", der_sequence(der(0x87, b"\x01\x02\x03\x04\x05"))),
                           "extension subjectAltName iPAddress"),
    "san-ip-empty": (with_extension("2.5.29.17", der_sequence(der(0x87, b""))), "extension subjectAltName iPAddress"),
    "san-unknown-choice": (with_extension("2.5.29.17", der_sequence(der(0x89, b"x"))), "extension subjectAltName"),
    "san-constructed-dns-name": (with_extension("2.5.29.17", der_sequence(der(0xA2, der(0x16, b"a")))),
                                 "extension subjectAltName"),
    "san-trailing-octets": (with_extension("2.5.29.17", der_sequence(der(0x82, b"a")) + b"\x00"),
                            "extension subjectAltName"),
    "san-not-a-sequence": (with_extension("2.5.29.17", der(0x04, b"")), "extension subjectAltName"),
    "san-dns-not-utf8": (with_extension("2.5.29.17", der_sequence(der(0x82, b"\xff"))),
                         "extension subjectAltName dNSName"),
    "crl-point-bad-choice": (with_extension("2.5.29.31", der_sequence(der_sequence(der(0xA0, der(0xA2, b""))))),
                             "extension cRLDistributionPoints point 1 distributionPoint"),
    "crl-fields-out-of-order": (with_extension("2.5.29.31", der_sequence(der_sequence(
        der(0x81, b"\x07\x80"), der(0xA0, der(0xA0, der(0x86, b"http://127.0.0.1/")))))),
        "extension cRLDistributionPoints point 1"),
    "crl-uri-not-utf8": (with_extension("2.5.29.31", der_sequence(der_sequence(der(0xA0, der(0xA0, der(0x86, b"\xff")))))),
                         "extension cRLDistributionPoints point 1 fullName URI"),
    "aia-missing-location": (with_extension("1.3.6.1.5.5.7.1.1", der_sequence(der_sequence(OCSP_METHOD))),
                             "extension authorityInfoAccess accessDescription 1"),
    "aia-unknown-choice": (with_extension("1.3.6.1.5.5.7.1.1", der_sequence(der_sequence(OCSP_METHOD, der(0x8A, b"")))),
                           "extension authorityInfoAccess accessDescription 1 accessLocation"),
    # Keys
    "ed25519-short-key": (with_key_info(der_sequence(der_oid("1.3.101.112")), bytes(31)), f"{KEY_FIELD} Ed25519 key"),
    "ed448-long-key": (with_key_info(der_sequence(der_oid("1.3.101.113")), bytes(58)), f"{KEY_FIELD} Ed448 key"),
    "rsa-negative-modulus": (with_key_info(RSA_ALGORITHM, der_sequence(der_integer(-5), der_integer(65537))),
                             f"{KEY_FIELD} RSA key"),
    "rsa-key-trailing-octet": (with_key_info(RSA_ALGORITHM, der_sequence(der_integer(5), der_integer(3)) + b"\x00"),
                               f"{KEY_FIELD} RSA key"),
    "rsa-key-one-integer": (with_key_info(RSA_ALGORITHM, der_sequence(der_integer(5))), f"{KEY_FIELD} RSA key"),
    "key-with-unused-bits": (assemble_certificate(public_key_info=der_sequence(
        der_sequence(der_oid("1.3.101.112")), der(0x03, b"\x01" + bytes(31) + b"\x02"))),
        f"{KEY_FIELD}.subjectPublicKey"),
    "ec-key-without-curve": (with_key_info(der_sequence(der_oid("1.2.840.10045.2.1")), b"\x04" + bytes(64)),
                             f"{KEY_FIELD} EC parameters"),
    "dsa-parameters-two-integers": (with_key_info(
        der_sequence(der_oid("1.2.840.10040.4.1"), der_sequence(der_integer(23), der_integer(11))), der_integer(5)),
        f"{KEY_FIELD} DSA key parameters"),
}


def test_malformed_cases_have_a_valid_control():
    facts = assert_matches_cryptography(VALID)

    assert facts.dns_names == ("mx.a.test",)


@pytest.mark.parametrize(("certificate", "field"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_certificate_names_the_field(certificate, field):
    with pytest.raises(CertificateParseError) as caught:
        parse_certificate(certificate)

    assert caught.value.field == field
    assert str(caught.value).startswith(f"invalid certificate: {field}: ")


def test_version_2_certificate_is_read():
    # cryptography 50 rejects v2 certificates. RFC 5280 section 4.1.2.1 says
    # implementations SHOULD accept any version, and this reader does.
    facts = parse_certificate(assemble_certificate(version=der(0xA0, der_integer(1))))

    assert facts.subject == "CN=mx.example.test"


def test_bytes_like_inputs_are_read():
    expected = parse_certificate(VALID)

    assert parse_certificate(bytearray(VALID)) == expected
    assert parse_certificate(memoryview(VALID)) == expected
    assert expected.der == VALID


@pytest.mark.parametrize("value", [VALID.hex(), 5, None], ids=["str", "int", "none"])
def test_non_bytes_input_is_a_type_error(value):
    with pytest.raises(TypeError, match="expects DER bytes"):
        parse_certificate(value)


# Property tests

SPECIAL_CHARACTERS = st.sampled_from(list(' #+,;<>"\\\x00='))
TEXT = st.text(st.one_of(SPECIAL_CHARACTERS, st.characters(codec="utf-8")), max_size=10)
PRINTABLE_TEXT = st.text(st.sampled_from(list("AZaz09 '()+,-./:=?")), max_size=10)
ATTRIBUTE_TYPES = [NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,
                   NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS,
                   NameOID.DOMAIN_COMPONENT, NameOID.USER_ID, NameOID.EMAIL_ADDRESS, NameOID.TITLE,
                   ObjectIdentifier("1.3.6.1.4.1.99999.7")]
TEXT_TYPES = [_ASN1Type.UTF8String, _ASN1Type.BMPString, _ASN1Type.UniversalString, _ASN1Type.IA5String]


@st.composite
def name_attributes(draw):  # type: ignore[no-untyped-def]
    oid = draw(st.sampled_from(ATTRIBUTE_TYPES))
    if draw(st.booleans()):
        string_type, value = _ASN1Type.PrintableString, draw(PRINTABLE_TEXT)
    else:
        string_type, value = draw(st.sampled_from(TEXT_TYPES)), draw(TEXT)
    if oid == NameOID.COMMON_NAME and not value:
        value = "x"  # cryptography requires 1 to 64 characters in a commonName
    return x509.NameAttribute(oid, value, _type=string_type)


RDNS = st.lists(st.lists(name_attributes(), min_size=1, max_size=3, unique_by=lambda a: (a.oid, a.value)),
                max_size=5)


@FAST
@given(RDNS)
def test_random_names_match_cryptography(rdns):
    subject = x509.Name([x509.RelativeDistinguishedName(rdn) for rdn in rdns])

    facts = assert_matches_cryptography(build_certificate(subject))

    assert facts.subject_der == subject.public_bytes()


DNS_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
DNS_NAME = st.builds(lambda wildcard, labels: ("*." if wildcard else "") + ".".join(labels),
                     st.booleans(), st.lists(DNS_LABEL, min_size=1, max_size=4))
GENERAL_NAMES = st.lists(st.one_of(DNS_NAME.map(x509.DNSName), st.ip_addresses().map(x509.IPAddress)),
                         min_size=1, max_size=6)


@FAST
@given(GENERAL_NAMES)
def test_random_subject_alt_names_match_cryptography(names):
    facts = assert_matches_cryptography(build_certificate(extensions=san(*names)))

    assert facts.dns_names == tuple(name.value for name in names if isinstance(name, x509.DNSName))
    assert facts.ip_addresses == tuple(str(name.value) for name in names if isinstance(name, x509.IPAddress))


FUZZ_LEAF = build_certificate(
    x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org"),
                                               x509.NameAttribute(NameOID.COMMON_NAME, "mx.a.test")]),
               x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "pm@a.test")])]),
    extensions=(
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
        *san(x509.DNSName("mx.a.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.25")),
             x509.RFC822Name("pm@a.test"), x509.IPAddress(ipaddress.ip_address("::1"))),
        (x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier("http://127.0.0.1/a.crl")], None, None, None)]), False),
        (x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://127.0.0.1/ocsp"))]), False),
    ))


def reference_or_none(certificate: bytes) -> dict[str, object] | None:
    """Return cryptography's view of a damaged certificate, or None where cryptography rejects it."""
    try:
        return reference_facts(certificate)
    except Exception:  # noqa: BLE001 - cryptography raises ValueError, TypeError and its own errors
        return None


def test_every_truncation_parses_or_raises():
    assert FUZZ_LEAF[4:6] == b"\x30\x82"  # the TBS SEQUENCE, with a two-octet length
    tbs_end = 8 + int.from_bytes(FUZZ_LEAF[6:8], "big")
    tbs_content, rest = FUZZ_LEAF[8:tbs_end], FUZZ_LEAF[tbs_end:]
    assert parse_certificate(der_sequence(der(0x30, tbs_content), rest)) == parse_certificate(FUZZ_LEAF)

    for length in range(len(FUZZ_LEAF)):
        with pytest.raises(CertificateParseError):
            parse_certificate(FUZZ_LEAF[:length])
    for length in range(len(tbs_content)):
        assert_read_like_cryptography(der_sequence(der(0x30, tbs_content[:length]), rest))


def assert_read_like_cryptography(certificate: bytes) -> None:
    """Check that the reader returns cryptography's facts, or raises CertificateParseError where cryptography fails."""
    reference = reference_or_none(certificate)
    try:
        facts = parse_certificate(certificate)
    except CertificateParseError as error:
        assert reference is None, f"cryptography reads this certificate, the reader raised: {error}"
        return
    if reference is not None:
        assert facts_as_dict(facts) == reference


EDITS = st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete"]),
                           st.integers(0, len(FUZZ_LEAF) - 1), st.integers(0, 255)), min_size=1, max_size=3)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(EDITS)
def test_mutated_certificate_parses_or_raises(edits):
    damaged = bytearray(FUZZ_LEAF)
    for kind, position, value in edits:
        position %= len(damaged)
        if kind == "replace":
            damaged[position] = value
        elif kind == "insert":
            damaged.insert(position, value)
        else:
            del damaged[position]

    assert_read_like_cryptography(bytes(damaged))


# This machine's trust store

def _pem_certificates(text: str) -> list[bytes]:
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    blocks = []
    position = text.find(begin)
    while position != -1:
        stop = text.find(end, position)
        blocks.append(base64.b64decode(text[position + len(begin):stop]))
        position = text.find(begin, stop)
    return blocks


def _trust_store_roots() -> list[bytes]:
    cafile = ssl.get_default_verify_paths().cafile
    if cafile is None or not Path(cafile).is_file():
        return []
    return _pem_certificates(Path(cafile).read_text(encoding="ascii", errors="replace"))


TRUST_STORE_ROOTS = _trust_store_roots()


@pytest.mark.parametrize("root", TRUST_STORE_ROOTS, ids=[f"root-{index:03d}" for index in range(len(TRUST_STORE_ROOTS))])
def test_trust_store_root_matches_cryptography(root):
    assert_matches_cryptography(root)
