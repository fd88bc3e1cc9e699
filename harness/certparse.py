"""A small, strict DER reader for the facts the probe prints about a certificate.

``smtp-harness probe`` runs as a fresh command with a start-up budget of
about 65 ms, Python's own start-up included. Importing ``cryptography.x509``
adds about 30 ms to a process that has already imported ssl, socket,
datetime, ipaddress and dataclasses (``python -X importtime``, Python
3.11.7, cryptography 50.0.2, on this project's 2-core development
machine). The probe only needs a handful of facts from the leaf a server
sends: the names, the validity dates, the key, the signature algorithm and
the revocation pointers. This module reads them with the standard library
alone. Its own import costs about 1.5 ms on the same machine, most of it
spent building the dataclass.

It reads, and never verifies: no signature is checked and no chain is
built. OpenSSL judges the signatures during the handshake, and
cryptography stays the library for everything else in the harness (the
simulated PKI, CRLs, OCSP). cryptography is also the reference that the
tests hold this reader to, field by field.

Structures read (RFC 5280):

- section 4.1: Certificate and TBSCertificate, including the optional
  version, issuerUniqueID, subjectUniqueID and extensions;
- section 4.1.2.4: Name, rendered as an RFC 4514 string (section 2: RDNs in
  reverse order, the attributes of a multi-valued RDN joined with "+",
  special characters escaped) the way cryptography's
  ``Name.rfc4514_string()`` renders it;
- section 4.1.2.5: Validity, with UTCTime years 50-99 read as 19xx and
  00-49 as 20xx (4.1.2.5.1), and GeneralizedTime without fractional seconds
  (4.1.2.5.2), both in the "Z" form;
- section 4.2.1.6: subjectAltName (dNSName and iPAddress entries);
- section 4.2.1.13: cRLDistributionPoints (fullName URIs);
- section 4.2.2.1: authorityInfoAccess (id-ad-ocsp URIs).

Every other extension is skipped unread, critical or not, and at most one
instance of each extension is accepted (RFC 5280 section 4.2).

The parts it reads must be DER (ITU-T X.690): definite lengths in the
fewest octets, minimal INTEGERs (8.3.2), OIDs without padding octets
(8.19.2), the attributes of a multi-valued RDN in ascending order of their
encodings (11.6), the critical flag as 0xFF when TRUE and absent when FALSE,
and the version absent for v1. Anything that breaks these rules, ends
early or carries trailing octets raises ``CertificateParseError`` naming
the field it was reading.
"""

from __future__ import annotations

import datetime
import ipaddress
import dataclasses

# Universal tags (X.680), with the constructed bit where it applies.
_BOOLEAN = 0x01
_INTEGER = 0x02
_BIT_STRING = 0x03
_OCTET_STRING = 0x04
_NULL = 0x05
_OID = 0x06
_UTF8_STRING = 0x0C
_PRINTABLE_STRING = 0x13
_TELETEX_STRING = 0x14
_UTC_TIME = 0x17
_GENERALIZED_TIME = 0x18
_UNIVERSAL_STRING = 0x1C
_BMP_STRING = 0x1E
_SEQUENCE = 0x30
_SET = 0x31

# TBSCertificate's tagged fields (RFC 5280 section 4.1).
_VERSION_TAG = 0xA0  # [0] EXPLICIT Version
_ISSUER_UNIQUE_ID_TAG = 0x81  # [1] IMPLICIT BIT STRING
_SUBJECT_UNIQUE_ID_TAG = 0x82  # [2] IMPLICIT BIT STRING
_EXTENSIONS_TAG = 0xA3  # [3] EXPLICIT Extensions

# GeneralName choices (RFC 5280 section 4.2.1.6, implicitly tagged).
_GENERAL_NAME_TAGS = frozenset({
    0xA0,  # otherName
    0x81,  # rfc822Name
    0x82,  # dNSName
    0xA3,  # x400Address
    0xA4,  # directoryName
    0xA5,  # ediPartyName
    0x86,  # uniformResourceIdentifier
    0x87,  # iPAddress
    0x88,  # registeredID
})
_DNS_NAME_TAG = 0x82
_URI_TAG = 0x86
_IP_ADDRESS_TAG = 0x87

# DistributionPoint and DistributionPointName (RFC 5280 section 4.2.1.13).
_DISTRIBUTION_POINT_TAG = 0xA0
_REASONS_TAG = 0x81
_CRL_ISSUER_TAG = 0xA2
_FULL_NAME_TAG = 0xA0
_RELATIVE_NAME_TAG = 0xA1

_SUBJECT_ALT_NAME = "2.5.29.17"
_CRL_DISTRIBUTION_POINTS = "2.5.29.31"
_AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1"
_ACCESS_METHOD_OCSP = "1.3.6.1.5.5.7.48.1"

_COMMON_NAME = "2.5.4.3"
_X500_UNIQUE_IDENTIFIER = "2.5.4.45"

# The short names RFC 4514 section 3 lists, which are the ones cryptography
# prints; every other attribute type is printed as its dotted OID.
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}

# The characters of PrintableString (X.680).
_PRINTABLE_CHARACTERS = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         b"0123456789 '()+,-./:=?")

# Attribute value types that cryptography 50 decodes as UTF-8 text: the
# DirectoryString choices plus IA5String, VisibleString, NumericString,
# OCTET STRING and the two time types. BMPString and UniversalString have
# their own decoders below; any other type is printed in the "#" hex form.
_UTF8_VALUE_TAGS = frozenset({0x04, 0x0C, 0x12, _PRINTABLE_STRING, _TELETEX_STRING, 0x16,
                              _UTC_TIME, _GENERALIZED_TIME, 0x1A})

# RFC 4514 section 2.4: characters escaped anywhere in a value. NUL has
# no backslash form and takes the hex pair.
_ESCAPES = str.maketrans({
    "\\": "\\\\",
    '"': '\\"',
    "+": "\\+",
    ",": "\\,",
    ";": "\\;",
    "<": "\\<",
    ">": "\\>",
    "\0": "\\00",
})

# Signature algorithms: the name cryptography gives the OID
# (``ObjectIdentifier._name``) and the hash that cryptography's
# ``signature_hash_algorithm`` names. A name of None prints the dotted OID.
_SIGNATURE_ALGORITHMS: dict[str, tuple[str | None, str | None]] = {
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "md5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "sha1"),
    "1.3.14.3.2.29": (None, "sha1"),  # an old alias of sha1WithRSAEncryption
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "sha224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "sha512"),
    "2.16.840.1.101.3.4.3.13": (None, "sha3-224"),
    "2.16.840.1.101.3.4.3.14": (None, "sha3-256"),
    "2.16.840.1.101.3.4.3.15": (None, "sha3-384"),
    "2.16.840.1.101.3.4.3.16": (None, "sha3-512"),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "sha512"),
    "2.16.840.1.101.3.4.3.9": (None, "sha3-224"),
    "2.16.840.1.101.3.4.3.10": (None, "sha3-256"),
    "2.16.840.1.101.3.4.3.11": (None, "sha3-384"),
    "2.16.840.1.101.3.4.3.12": (None, "sha3-512"),
    "1.2.840.10040.4.3": ("dsa-with-sha1", "sha1"),
    "2.16.840.1.101.3.4.3.1": ("dsa-with-sha224", "sha224"),
    "2.16.840.1.101.3.4.3.2": ("dsa-with-sha256", "sha256"),
    "2.16.840.1.101.3.4.3.3": (None, "sha384"),  # cryptography 50 names no hash here
    "2.16.840.1.101.3.4.3.4": (None, "sha512"),  # nor here
    "1.3.101.112": ("ed25519", None),
    "1.3.101.113": ("ed448", None),
    "2.16.840.1.101.3.4.3.17": ("ML-DSA-44", None),
    "2.16.840.1.101.3.4.3.18": ("ML-DSA-65", None),
    "2.16.840.1.101.3.4.3.19": ("ML-DSA-87", None),
    "1.2.643.2.2.3": ("GOST R 34.11-94 with GOST R 34.10-2001", None),
    "1.2.643.7.1.1.3.2": ("GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)", None),
    "1.2.643.7.1.1.3.3": ("GOST R 34.10-2012 with GOST R 34.11-2012 (512 bit)", None),
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"

# Hash algorithm OIDs, as RSASSA-PSS parameters name them, with
# cryptography's names for them.
_HASH_ALGORITHMS = {
    "1.2.840.113549.2.5": "md5",
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.5": "sha512-224",
    "2.16.840.1.101.3.4.2.6": "sha512-256",
    "2.16.840.1.101.3.4.2.7": "sha3-224",
    "2.16.840.1.101.3.4.2.8": "sha3-256",
    "2.16.840.1.101.3.4.2.9": "sha3-384",
    "2.16.840.1.101.3.4.2.10": "sha3-512",
}

# Public key algorithms (SubjectPublicKeyInfo.algorithm).
_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
_DSA = "1.2.840.10040.4.1"
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_ED25519 = "1.3.101.112"
_ED448 = "1.3.101.113"

# Named curves that cryptography 50 supports: its name for each, and its key size.
_CURVES = {
    "1.2.840.10045.3.1.1": ("secp192r1", 192),
    "1.3.132.0.33": ("secp224r1", 224),
    "1.3.132.0.10": ("secp256k1", 256),
    "1.2.840.10045.3.1.7": ("secp256r1", 256),
    "1.3.132.0.34": ("secp384r1", 384),
    "1.3.132.0.35": ("secp521r1", 521),
    "1.3.36.3.3.2.8.1.1.7": ("brainpoolP256r1", 256),
    "1.3.36.3.3.2.8.1.1.11": ("brainpoolP384r1", 384),
    "1.3.36.3.3.2.8.1.1.13": ("brainpoolP512r1", 512),
}

# EdDSA public keys are 32 octets (Ed25519) and 57 octets (Ed448).
# cryptography gives these keys no key_size; this reader reports the bit
# length of the encoded key, 256 and 456.
_EDDSA_KEY_OCTETS = {_ED25519: ("Ed25519", 32), _ED448: ("Ed448", 57)}

# The maximum number of length octets accepted: four, so lengths stay below 4 GiB.
_MAX_LENGTH_OCTETS = 4

# One element inside a constructed value: (tag, offset of the tag octet,
# offset of the first content octet, offset just past the last one).
_Element = tuple[int, int, int, int]


class CertificateParseError(ValueError):
    """Raised for bytes that are not a DER X.509 certificate this reader understands."""

    field: str = ""  # the certificate field being read, such as "tbsCertificate.validity"


@dataclasses.dataclass(frozen=True)
class CertificateFacts:
    """The facts the probe reads from one certificate, as cryptography would report it.

    ``subject`` and ``issuer`` are RFC 4514 strings equal to cryptography's
    ``Name.rfc4514_string()``. ``subject_der`` and ``issuer_der`` are the
    encoded Names, byte for byte. ``common_names`` contains the subject's
    string-typed commonName values in encoding order. Dates are
    timezone-aware UTC.
    ``key_type`` is "RSA", "EC", "DSA", "Ed25519" or "Ed448", or else the
    dotted OID of the key algorithm. ``key_bits`` is the RSA modulus or DSA
    p length, the EC curve size, 256 for Ed25519 and 456 for Ed448, or None
    where unknown. ``curve`` is cryptography's curve name, or the dotted OID
    of a named curve cryptography does not know, or None. The signature
    algorithm is the outer signatureAlgorithm, as cryptography reads it.
    """

    der: bytes = dataclasses.field(repr=False)
    subject: str
    issuer: str
    subject_der: bytes = dataclasses.field(repr=False)
    issuer_der: bytes = dataclasses.field(repr=False)
    common_names: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    has_subject_alt_name: bool
    not_before: datetime.datetime
    not_after: datetime.datetime
    key_type: str
    key_bits: int | None
    curve: str | None
    signature_algorithm: str
    signature_hash: str | None
    crl_urls: tuple[str, ...]
    ocsp_urls: tuple[str, ...]

    @property
    def self_issued(self) -> bool:
        """Whether the issuer and subject Names are the same bytes.

        RFC 5280 section 4.1.2.4 calls a certificate self-issued when the two
        names match under its comparison rules. Byte equality is the common
        case, and the one that self-signed leaves and roots show.
        """
        return self.issuer_der == self.subject_der

    def describe_key(self) -> str:
        """Describe the key for a report: "RSA 2048 bits", "EC secp256r1", "DSA 1024 bits", "Ed25519"."""
        if self.key_type in ("RSA", "DSA") and self.key_bits is not None:
            return f"{self.key_type} {self.key_bits} bits"
        if self.key_type == "EC" and self.curve is not None:
            return f"EC {self.curve}"
        return self.key_type


def parse_certificate(der: bytes) -> CertificateFacts:
    """Read the facts of one DER-encoded X.509 certificate.

    Raises CertificateParseError, naming the field, for input that is not
    a DER certificate; raises TypeError for input that is not bytes-like.
    """
    if not isinstance(der, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_certificate() expects DER bytes, not {type(der).__name__}")
    data = bytes(der)
    start, stop = _expect(data, 0, len(data), _SEQUENCE, "certificate")
    if stop != len(data):
        raise _error("certificate", f"{len(data) - stop} octets follow the certificate")

    parts = _children(data, start, stop, "certificate")
    if len(parts) != 3:
        raise _error("certificate", f"expected 3 elements (tbsCertificate, signatureAlgorithm, "
                                    f"signatureValue), found {len(parts)}")
    tbs, algorithm, signature = parts
    _check_tag(tbs, _SEQUENCE, "tbsCertificate")
    _check_tag(algorithm, _SEQUENCE, "signatureAlgorithm")
    _check_tag(signature, _BIT_STRING, "signatureValue")

    facts = _read_tbs(data, tbs)
    signature_algorithm, signature_hash = _read_signature_algorithm(data, algorithm)
    _read_bit_string(data, signature, "signatureValue")
    return CertificateFacts(der=data, signature_algorithm=signature_algorithm,
                            signature_hash=signature_hash, **facts)


# TBSCertificate

def _read_tbs(data: bytes, tbs: _Element) -> dict:  # type: ignore[type-arg]
    """Read the TBSCertificate fields in their RFC 5280 section 4.1 order."""
    elements = _children(data, tbs[2], tbs[3], "tbsCertificate")
    index = 0
    if elements and elements[0][0] == _VERSION_TAG:
        _read_version(data, elements[0])
        index = 1

    serial = _next(elements, index, _INTEGER, "tbsCertificate.serialNumber")
    _read_integer(data, serial, "tbsCertificate.serialNumber")
    signature = _next(elements, index + 1, _SEQUENCE, "tbsCertificate.signature")
    _read_algorithm_identifier(data, signature, "tbsCertificate.signature")
    issuer = _next(elements, index + 2, _SEQUENCE, "tbsCertificate.issuer")
    validity = _next(elements, index + 3, _SEQUENCE, "tbsCertificate.validity")
    subject = _next(elements, index + 4, _SEQUENCE, "tbsCertificate.subject")
    public_key = _next(elements, index + 5, _SEQUENCE, "tbsCertificate.subjectPublicKeyInfo")

    issuer_string, _ = _read_name(data, issuer, "tbsCertificate.issuer")
    subject_string, common_names = _read_name(data, subject, "tbsCertificate.subject")
    not_before, not_after = _read_validity(data, validity)
    key_type, key_bits, curve = _read_public_key(data, public_key)
    extensions = _read_optional_fields(data, elements[index + 6:])

    facts = {
        "subject": subject_string,
        "issuer": issuer_string,
        "subject_der": data[subject[1]:subject[3]],
        "issuer_der": data[issuer[1]:issuer[3]],
        "common_names": common_names,
        "not_before": not_before,
        "not_after": not_after,
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
    }
    facts.update(_read_known_extensions(data, extensions))
    return facts


def _read_version(data: bytes, element: _Element) -> int:
    field = "tbsCertificate.version"
    start, stop = _expect(data, element[2], element[3], _INTEGER, field)
    if stop != element[3]:
        raise _error(field, "octets follow the version INTEGER")
    version = _read_integer(data, (_INTEGER, element[2], start, stop), field)
    if version == 0:
        # v1 is the DEFAULT, and DER never encodes a DEFAULT value.
        raise _error(field, "v1 is encoded explicitly, which DER forbids for a DEFAULT value")
    if version not in (1, 2):
        raise _error(field, f"unknown version {version}; X.509 defines v1, v2 and v3")
    return version


def _read_optional_fields(data: bytes, elements: list[_Element]) -> dict[str, tuple[int, int]]:
    """Read issuerUniqueID, subjectUniqueID and extensions, each optional, in that order."""
    order = (_ISSUER_UNIQUE_ID_TAG, _SUBJECT_UNIQUE_ID_TAG, _EXTENSIONS_TAG)
    position = 0
    extensions: dict[str, tuple[int, int]] = {}
    for element in elements:
        tag = element[0]
        if tag not in order[position:]:
            raise _error("tbsCertificate", f"unexpected element with tag {tag:#04x} after "
                                           "subjectPublicKeyInfo")
        position = order.index(tag) + 1
        if tag == _EXTENSIONS_TAG:
            extensions = _read_extensions(data, element)
        else:
            _read_bit_string(data, element, "tbsCertificate.uniqueIdentifier")
    return extensions


# Names (RFC 5280 section 4.1.2.4, rendered per RFC 4514 section 2)

def _read_name(data: bytes, name: _Element, field: str) -> tuple[str, tuple[str, ...]]:
    """Return a Name's RFC 4514 string and its commonName values in encoding order."""
    rendered: list[str] = []
    common_names: list[str] = []
    for number, rdn in enumerate(_children(data, name[2], name[3], field), 1):
        where = f"{field} RDN {number}"
        _check_tag(rdn, _SET, where)
        attributes = _children(data, rdn[2], rdn[3], where)
        if not attributes:
            raise _error(where, "empty RelativeDistinguishedName")
        _check_set_order(data, attributes, where)

        parts = []
        for attribute in attributes:
            oid, text, value = _read_attribute(data, attribute, where)
            parts.append(f"{_SHORT_NAMES.get(oid, oid)}={value}")
            if oid == _COMMON_NAME and text is not None:
                common_names.append(text)
        rendered.append("+".join(parts))
    rendered.reverse()
    return ",".join(rendered), tuple(common_names)


def _read_attribute(data: bytes, attribute: _Element, field: str) -> tuple[str, str | None, str]:
    """Read one AttributeTypeAndValue: its OID, its text (None if not text) and its RFC 4514 value."""
    _check_tag(attribute, _SEQUENCE, field)
    parts = _children(data, attribute[2], attribute[3], field)
    if len(parts) != 2:
        raise _error(field, f"an AttributeTypeAndValue has 2 elements, found {len(parts)}")
    kind, value = parts
    _check_tag(kind, _OID, field)
    oid = _read_oid(data, kind, field)
    field = f"{field} {_SHORT_NAMES.get(oid, oid)}"

    tag, offset, start, stop = value
    if tag == _BIT_STRING and oid == _X500_UNIQUE_IDENTIFIER:
        # cryptography prints this value's content octets, the unused-bits
        # octet included, in the "#" form.
        return oid, None, _hex_form(data[start:stop])
    text = _decode_text(tag, data[start:stop], field)
    if text is None:
        # RFC 4514 section 2.4: a value without a string form is printed as
        # "#" and the hex of its whole BER encoding.
        return oid, None, _hex_form(data[offset:stop])
    return oid, text, _escape_value(text)


def _decode_text(tag: int, raw: bytes, field: str) -> str | None:
    """Decode a string-typed attribute value, or return None for any other type."""
    if tag == _PRINTABLE_STRING and raw.translate(None, _PRINTABLE_CHARACTERS):
        raise _error(field, "PrintableString contains a character outside its character set")
    try:
        if tag in _UTF8_VALUE_TAGS:
            return _decode_utf8(tag, raw)
        if tag == _BMP_STRING:
            return _decode_fixed_width(raw, 2, "utf-16-be")
        if tag == _UNIVERSAL_STRING:
            return _decode_fixed_width(raw, 4, "utf-32-be")
    except (UnicodeDecodeError, ValueError) as error:
        raise _error(field, f"invalid string value: {error}") from error
    return None


def _decode_utf8(tag: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if tag != _TELETEX_STRING:
            raise
    # NOTE: cryptography 50 decodes TeletexString as UTF-8 and rejects other
    # bytes. Legacy CAs wrote Latin-1 there, so this reader falls back to
    # Latin-1 instead of rejecting the whole certificate.
    return raw.decode("latin-1")


def _decode_fixed_width(raw: bytes, width: int, codec: str) -> str:
    if len(raw) % width:
        raise ValueError(f"length {len(raw)} is not a multiple of {width}")
    return raw.decode(codec)


def _escape_value(text: str) -> str:
    """Escape a string value as cryptography's rfc4514_string() does (RFC 4514 section 2.4)."""
    escaped = text.translate(_ESCAPES)
    if not escaped:
        return escaped
    if escaped[0] == "#" or (escaped[0] == " " and len(escaped) > 1):
        escaped = "\\" + escaped
    if escaped[-1] == " ":
        escaped = escaped[:-1] + "\\ "
    return escaped


def _hex_form(raw: bytes) -> str:
    return "#" + raw.hex() if raw else ""


def _check_set_order(data: bytes, elements: list[_Element], field: str) -> None:
    """Check X.690 11.6: the encodings of a SET OF's elements ascend.

    Two complete DER encodings are never a proper prefix of each other, so
    plain byte comparison gives X.690's zero-padded order.
    """
    previous = b""
    for _, offset, _, stop in elements:
        encoding = data[offset:stop]
        if encoding < previous:
            raise _error(field, "SET OF elements are not in ascending DER order")
        previous = encoding


# Validity (RFC 5280 section 4.1.2.5)

def _read_validity(data: bytes, validity: _Element) -> tuple[datetime.datetime, datetime.datetime]:
    field = "tbsCertificate.validity"
    times = _children(data, validity[2], validity[3], field)
    if len(times) != 2:
        raise _error(field, f"expected notBefore and notAfter, found {len(times)} elements")
    not_before = _read_time(data, times[0], f"{field}.notBefore")
    not_after = _read_time(data, times[1], f"{field}.notAfter")
    return not_before, not_after


def _read_time(data: bytes, element: _Element, field: str) -> datetime.datetime:
    """Read a UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) in UTC."""
    tag, _, start, stop = element
    raw = data[start:stop]
    if tag == _UTC_TIME:
        digits = 12
    elif tag == _GENERALIZED_TIME:
        digits = 14
    else:
        raise _error(field, f"expected UTCTime or GeneralizedTime, found tag {tag:#04x}")
    # bytes.isdigit() accepts ASCII digits only, unlike str.isdigit().
    if len(raw) != digits + 1 or raw[-1:] != b"Z" or not raw[:-1].isdigit():
        form = "YYMMDDHHMMSSZ" if tag == _UTC_TIME else "YYYYMMDDHHMMSSZ"
        raise _error(field, f"time {raw!r} is not in the form {form}")

    if tag == _UTC_TIME:
        year = int(raw[0:2])
        year += 1900 if year >= 50 else 2000
    else:
        year = int(raw[0:4])
    rest = raw[digits - 10:digits]
    try:
        return datetime.datetime(year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]),
                                 int(rest[8:10]), tzinfo=datetime.timezone.utc)
    except ValueError as error:
        raise _error(field, f"time {raw!r} is not a valid date: {error}") from error


# SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7)

def _read_public_key(data: bytes, info: _Element) -> tuple[str, int | None, str | None]:
    """Return the key type, its size in bits and its curve name."""
    field = "tbsCertificate.subjectPublicKeyInfo"
    parts = _children(data, info[2], info[3], field)
    if len(parts) != 2:
        raise _error(field, f"expected algorithm and subjectPublicKey, found {len(parts)} elements")
    _check_tag(parts[0], _SEQUENCE, f"{field}.algorithm")
    _check_tag(parts[1], _BIT_STRING, f"{field}.subjectPublicKey")
    algorithm, parameters = _read_algorithm_identifier(data, parts[0], f"{field}.algorithm")
    key = _read_bit_string(data, parts[1], f"{field}.subjectPublicKey", whole_octets=True)

    if algorithm in (_RSA_ENCRYPTION, _RSASSA_PSS):
        return "RSA", _read_rsa_modulus_bits(key, f"{field} RSA key"), None
    if algorithm == _DSA:
        return "DSA", _read_dsa_bits(data, parameters, key, f"{field} DSA key"), None
    if algorithm == _EC_PUBLIC_KEY:
        curve, bits = _read_curve(data, parameters, f"{field} EC parameters")
        return "EC", bits, curve
    if algorithm in _EDDSA_KEY_OCTETS:
        name, octets = _EDDSA_KEY_OCTETS[algorithm]
        if len(key) != octets:
            raise _error(f"{field} {name} key", f"expected {octets} octets, found {len(key)}")
        return name, octets * 8, None
    return algorithm, None, None


def _read_rsa_modulus_bits(key: bytes, field: str) -> int:
    """Read RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }."""
    start, stop = _expect(key, 0, len(key), _SEQUENCE, field)
    if stop != len(key):
        raise _error(field, "octets follow the RSAPublicKey")
    numbers = _children(key, start, stop, field)
    if len(numbers) != 2:
        raise _error(field, f"expected modulus and publicExponent, found {len(numbers)} elements")
    modulus = _read_integer(key, _checked(numbers[0], _INTEGER, f"{field} modulus"), f"{field} modulus")
    exponent = _read_integer(key, _checked(numbers[1], _INTEGER, f"{field} publicExponent"),
                             f"{field} publicExponent")
    if modulus <= 0 or exponent <= 0:
        raise _error(field, "the modulus and the public exponent must be positive")
    return modulus.bit_length()


def _read_dsa_bits(data: bytes, parameters: _Element | None, key: bytes, field: str) -> int | None:
    """Read Dss-Parms ::= SEQUENCE { p, q, g } and the public INTEGER; return p's length."""
    start, stop = _expect(key, 0, len(key), _INTEGER, field)
    if stop != len(key):
        raise _error(field, "octets follow the public key INTEGER")
    _read_integer(key, (_INTEGER, 0, start, stop), field)
    if parameters is None:
        return None  # inherited from the issuer, which this reader does not see
    _check_tag(parameters, _SEQUENCE, f"{field} parameters")
    numbers = _children(data, parameters[2], parameters[3], f"{field} parameters")
    if len(numbers) != 3:
        raise _error(f"{field} parameters", f"expected p, q and g, found {len(numbers)} elements")
    values = [_read_integer(data, _checked(number, _INTEGER, f"{field} parameters"), f"{field} parameters")
              for number in numbers]
    return values[0].bit_length()


def _read_curve(data: bytes, parameters: _Element | None, field: str) -> tuple[str | None, int | None]:
    """Read ECParameters: a named curve OID gives its name and size.

    Explicit curve parameters and implicitlyCA, which public CAs do not
    issue, give neither.
    """
    if parameters is None:
        raise _error(field, "an EC key names no curve")
    if parameters[0] != _OID:
        return None, None
    oid = _read_oid(data, parameters, field)
    if oid not in _CURVES:
        return oid, None
    return _CURVES[oid]


# Signature algorithm (RFC 5280 section 4.1.1.2)

def _read_signature_algorithm(data: bytes, algorithm: _Element) -> tuple[str, str | None]:
    """Return cryptography's name for the signature algorithm and the name of its hash."""
    oid, parameters = _read_algorithm_identifier(data, algorithm, "signatureAlgorithm")
    if oid == _RSASSA_PSS:
        return "rsassaPss", _read_pss_hash(data, parameters)
    name, hash_name = _SIGNATURE_ALGORITHMS.get(oid, (None, None))
    return name or oid, hash_name


def _read_pss_hash(data: bytes, parameters: _Element | None) -> str | None:
    """Read hashAlgorithm [0] of RSASSA-PSS-params (PKCS #1), which defaults to SHA-1."""
    field = "signatureAlgorithm RSASSA-PSS parameters"
    if parameters is None:
        return None  # cryptography 50 raises here; this reader reports no hash
    _check_tag(parameters, _SEQUENCE, field)
    fields = _children(data, parameters[2], parameters[3], field)
    if not fields or fields[0][0] != 0xA0:
        return "sha1"
    start, stop = _expect(data, fields[0][2], fields[0][3], _SEQUENCE, f"{field} hashAlgorithm")
    if stop != fields[0][3]:
        raise _error(f"{field} hashAlgorithm", "octets follow the AlgorithmIdentifier")
    oid, _ = _read_algorithm_identifier(data, (_SEQUENCE, fields[0][2], start, stop), f"{field} hashAlgorithm")
    return _HASH_ALGORITHMS.get(oid, oid)


def _read_algorithm_identifier(data: bytes, element: _Element, field: str) -> tuple[str, _Element | None]:
    """Read AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }."""
    parts = _children(data, element[2], element[3], field)
    if not parts or len(parts) > 2:
        raise _error(field, f"an AlgorithmIdentifier has 1 or 2 elements, found {len(parts)}")
    _check_tag(parts[0], _OID, field)
    oid = _read_oid(data, parts[0], field)
    return oid, parts[1] if len(parts) == 2 else None


# Extensions (RFC 5280 section 4.2)

def _read_extensions(data: bytes, element: _Element) -> dict[str, tuple[int, int]]:
    """Return each extension's extnValue content span, by OID."""
    field = "tbsCertificate.extensions"
    start, stop = _expect(data, element[2], element[3], _SEQUENCE, field)
    if stop != element[3]:
        raise _error(field, "octets follow the Extensions SEQUENCE")

    values: dict[str, tuple[int, int]] = {}
    for number, extension in enumerate(_children(data, start, stop, field), 1):
        where = f"{field} extension {number}"
        _check_tag(extension, _SEQUENCE, where)
        parts = _children(data, extension[2], extension[3], where)
        if len(parts) not in (2, 3):
            raise _error(where, f"an Extension has 2 or 3 elements, found {len(parts)}")
        _check_tag(parts[0], _OID, where)
        oid = _read_oid(data, parts[0], where)
        if len(parts) == 3:
            _read_critical(data, parts[1], f"{where} ({oid}) critical")
        _check_tag(parts[-1], _OCTET_STRING, f"{where} ({oid}) extnValue")
        if oid in values:
            raise _error(where, f"extension {oid} appears twice (RFC 5280 section 4.2 allows one)")
        values[oid] = (parts[-1][2], parts[-1][3])
    return values


def _read_critical(data: bytes, element: _Element, field: str) -> None:
    _check_tag(element, _BOOLEAN, field)
    raw = data[element[2]:element[3]]
    if raw == b"\x00":
        raise _error(field, "FALSE is encoded, which DER forbids for a DEFAULT value")
    if raw != b"\xff":
        raise _error(field, f"a DER BOOLEAN is one octet 0x00 or 0xFF, found {raw.hex() or 'nothing'}")


def _read_known_extensions(data: bytes, extensions: dict[str, tuple[int, int]]) -> dict:  # type: ignore[type-arg]
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    if _SUBJECT_ALT_NAME in extensions:
        dns_names, ip_addresses = _read_subject_alt_name(data, *extensions[_SUBJECT_ALT_NAME])
    crl_urls: tuple[str, ...] = ()
    if _CRL_DISTRIBUTION_POINTS in extensions:
        crl_urls = _read_crl_distribution_points(data, *extensions[_CRL_DISTRIBUTION_POINTS])
    ocsp_urls: tuple[str, ...] = ()
    if _AUTHORITY_INFO_ACCESS in extensions:
        ocsp_urls = _read_authority_info_access(data, *extensions[_AUTHORITY_INFO_ACCESS])
    return {
        "dns_names": dns_names,
        "ip_addresses": ip_addresses,
        "has_subject_alt_name": _SUBJECT_ALT_NAME in extensions,
        "crl_urls": crl_urls,
        "ocsp_urls": ocsp_urls,
    }


def _read_subject_alt_name(data: bytes, start: int, stop: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Read the dNSName and iPAddress entries of GeneralNames, in order."""
    field = "extension subjectAltName"
    dns_names: list[str] = []
    ip_addresses: list[str] = []
    for name in _general_names(data, *_single(data, start, stop, _SEQUENCE, field), field):
        tag, _, content_start, content_stop = name
        raw = data[content_start:content_stop]
        if tag == _DNS_NAME_TAG:
            dns_names.append(_decode_ia5(raw, f"{field} dNSName"))
        elif tag == _IP_ADDRESS_TAG:
            if len(raw) not in (4, 16):
                # RFC 5280 section 4.2.1.6: 4 octets for IPv4, 16 for IPv6.
                raise _error(f"{field} iPAddress", f"expected 4 or 16 octets, found {len(raw)}")
            ip_addresses.append(str(ipaddress.ip_address(raw)))
    return tuple(dns_names), tuple(ip_addresses)


def _read_crl_distribution_points(data: bytes, start: int, stop: int) -> tuple[str, ...]:
    """Read the URIs in each DistributionPoint's fullName, in order."""
    field = "extension cRLDistributionPoints"
    urls: list[str] = []
    points = _children(data, *_single(data, start, stop, _SEQUENCE, field), field)
    for number, point in enumerate(points, 1):
        where = f"{field} point {number}"
        _check_tag(point, _SEQUENCE, where)
        parts = _children(data, point[2], point[3], where)
        _check_optional_order(parts, (_DISTRIBUTION_POINT_TAG, _REASONS_TAG, _CRL_ISSUER_TAG), where)
        for tag, _, part_start, part_stop in parts:
            if tag == _DISTRIBUTION_POINT_TAG:
                urls.extend(_read_distribution_point_name(data, part_start, part_stop, where))
            elif tag == _REASONS_TAG:
                _read_bit_string(data, (tag, 0, part_start, part_stop), f"{where} reasons")
            else:
                _general_names(data, part_start, part_stop, f"{where} cRLIssuer")
    return tuple(urls)


def _read_distribution_point_name(data: bytes, start: int, stop: int, field: str) -> list[str]:
    """Read DistributionPointName ::= CHOICE { fullName [0], nameRelativeToCRLIssuer [1] }."""
    choice = _children(data, start, stop, f"{field} distributionPoint")
    if len(choice) != 1 or choice[0][0] not in (_FULL_NAME_TAG, _RELATIVE_NAME_TAG):
        raise _error(f"{field} distributionPoint", "expected one fullName [0] or nameRelativeToCRLIssuer [1]")
    tag, _, choice_start, choice_stop = choice[0]
    if tag == _RELATIVE_NAME_TAG:
        return []
    names = _general_names(data, choice_start, choice_stop, f"{field} fullName")
    return [_decode_ia5(data[name[2]:name[3]], f"{field} fullName URI") for name in names if name[0] == _URI_TAG]


def _read_authority_info_access(data: bytes, start: int, stop: int) -> tuple[str, ...]:
    """Read the URIs of the id-ad-ocsp AccessDescriptions, in order."""
    field = "extension authorityInfoAccess"
    urls: list[str] = []
    descriptions = _children(data, *_single(data, start, stop, _SEQUENCE, field), field)
    for number, description in enumerate(descriptions, 1):
        where = f"{field} accessDescription {number}"
        _check_tag(description, _SEQUENCE, where)
        parts = _children(data, description[2], description[3], where)
        if len(parts) != 2:
            raise _error(where, f"expected accessMethod and accessLocation, found {len(parts)} elements")
        _check_tag(parts[0], _OID, f"{where} accessMethod")
        method = _read_oid(data, parts[0], f"{where} accessMethod")
        location = parts[1]
        _check_general_name(location, f"{where} accessLocation")
        if method == _ACCESS_METHOD_OCSP and location[0] == _URI_TAG:
            urls.append(_decode_ia5(data[location[2]:location[3]], f"{where} accessLocation"))
    return tuple(urls)


def _general_names(data: bytes, start: int, stop: int, field: str) -> list[_Element]:
    """Split GeneralNames into its GeneralName elements, checking each choice's tag."""
    names = _children(data, start, stop, field)
    for name in names:
        _check_general_name(name, field)
    return names


def _check_general_name(name: _Element, field: str) -> None:
    if name[0] not in _GENERAL_NAME_TAGS:
        raise _error(field, f"unknown GeneralName choice with tag {name[0]:#04x}")


def _decode_ia5(raw: bytes, field: str) -> str:
    # cryptography 50 decodes dNSName and URI IA5Strings as UTF-8, so this
    # reader does too, instead of requiring ASCII.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _error(field, f"invalid UTF-8: {error}") from error


def _check_optional_order(parts: list[_Element], order: tuple[int, ...], field: str) -> None:
    position = 0
    for part in parts:
        if part[0] not in order[position:]:
            raise _error(field, f"unexpected element with tag {part[0]:#04x}")
        position = order.index(part[0]) + 1


# DER primitives (ITU-T X.690)

def _header(data: bytes, position: int, end: int, field: str) -> tuple[int, int, int]:
    """Read the identifier and length octets at ``position``; return (tag, content start, content end)."""
    if position + 2 > end:
        raise _error(field, "truncated: no room for a tag and a length")
    tag = data[position]
    if tag & 0x1F == 0x1F:
        raise _error(field, f"tag {tag:#04x} uses the high tag number form, which X.509 does not use")
    first = data[position + 1]
    position += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0:
            raise _error(field, "indefinite length, which DER forbids")
        if count > _MAX_LENGTH_OCTETS:
            raise _error(field, f"length field of {count} octets is too long")
        if position + count > end:
            raise _error(field, "truncated inside a length field")
        length = int.from_bytes(data[position:position + count], "big")
        if data[position] == 0 or length < 0x80:
            raise _error(field, "length not encoded in the fewest octets, as DER requires")
        position += count
    else:
        length = first
    if position + length > end:
        raise _error(field, f"truncated: {length} octets declared, {end - position} remain")
    return tag, position, position + length


def _expect(data: bytes, position: int, end: int, tag: int, field: str) -> tuple[int, int]:
    found, start, stop = _header(data, position, end, field)
    if found != tag:
        raise _error(field, f"expected tag {tag:#04x}, found {found:#04x}")
    return start, stop


def _single(data: bytes, start: int, stop: int, tag: int, field: str) -> tuple[int, int]:
    """Read the one element an extnValue must contain, with nothing after it."""
    content_start, content_stop = _expect(data, start, stop, tag, field)
    if content_stop != stop:
        raise _error(field, f"{stop - content_stop} octets follow the value")
    return content_start, content_stop


def _children(data: bytes, start: int, stop: int, field: str) -> list[_Element]:
    """Split the content of a constructed value into its elements."""
    elements = []
    position = start
    while position < stop:
        tag, content_start, content_stop = _header(data, position, stop, field)
        elements.append((tag, position, content_start, content_stop))
        position = content_stop
    return elements


def _next(elements: list[_Element], index: int, tag: int, field: str) -> _Element:
    if index >= len(elements):
        raise _error(field, "missing")
    return _checked(elements[index], tag, field)


def _checked(element: _Element, tag: int, field: str) -> _Element:
    _check_tag(element, tag, field)
    return element


def _check_tag(element: _Element, tag: int, field: str) -> None:
    if element[0] != tag:
        raise _error(field, f"expected tag {tag:#04x}, found {element[0]:#04x}")


def _read_integer(data: bytes, element: _Element, field: str) -> int:
    """Read an INTEGER whose content is minimal, as X.690 8.3.2 requires."""
    raw = data[element[2]:element[3]]
    if not raw:
        raise _error(field, "empty INTEGER")
    if len(raw) > 1 and ((raw[0] == 0x00 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)):
        raise _error(field, "INTEGER not encoded in the fewest octets")
    return int.from_bytes(raw, "big", signed=True)


def _read_bit_string(data: bytes, element: _Element, field: str, whole_octets: bool = False) -> bytes:
    """Read a BIT STRING: an unused-bits octet (0-7), then the bits, padded with zeros."""
    raw = data[element[2]:element[3]]
    if not raw:
        raise _error(field, "empty BIT STRING (the unused-bits octet is missing)")
    unused = raw[0]
    if unused > 7 or (unused and len(raw) == 1):
        raise _error(field, f"invalid unused-bits count {unused}")
    if unused and raw[-1] & ((1 << unused) - 1):
        raise _error(field, "the unused bits of a DER BIT STRING must be zero")
    if whole_octets and unused:
        raise _error(field, "the key is not a whole number of octets")
    return raw[1:]


def _read_oid(data: bytes, element: _Element, field: str) -> str:
    """Read an OBJECT IDENTIFIER into its dotted form (X.690 8.19)."""
    raw = data[element[2]:element[3]]
    if not raw or raw[-1] & 0x80:
        raise _error(field, "OBJECT IDENTIFIER is empty or ends inside a subidentifier")
    arcs = []
    value = 0
    starting = True
    for octet in raw:
        if starting and octet == 0x80:
            raise _error(field, "OBJECT IDENTIFIER subidentifier starts with a padding octet 0x80")
        value = (value << 7) | (octet & 0x7F)
        starting = not octet & 0x80
        if starting:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def _error(field: str, problem: str) -> CertificateParseError:
    error = CertificateParseError(f"invalid certificate: {field}: {problem}")
    error.field = field
    return error
