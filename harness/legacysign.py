"""Certificates signed with SHA-1, which cryptography no longer produces.

cryptography (50.0 on this machine) raises UnsupportedAlgorithm, "Hash
algorithm "sha1" not supported for signatures", when a certificate builder is
asked to sign with SHA-1. SHA-1-signed leaves still turn up on mail servers,
and a strict sender must reject them. OpenSSL 3 rates a SHA-1 signature below
the 80 bits of security level 1, so verification fails with verify code 68,
"CA signature digest algorithm too weak".

The workaround builds the certificate as usual with SHA-256, then rewrites it:
the signature algorithm identifier inside the to-be-signed part (TBS) and the
outer one both become sha1WithRSAEncryption, and the issuer's RSA key signs
the new TBS with PKCS#1 v1.5 over SHA-1. The result is a well-formed
certificate that ``openssl x509`` and ``openssl verify`` parse and check.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# AlgorithmIdentifier DER (RFC 4055 section 5 and RFC 3279 section 2.2.1):
# SEQUENCE { OID, NULL } for sha256WithRSAEncryption (1.2.840.113549.1.1.11)
# and sha1WithRSAEncryption (1.2.840.113549.1.1.5). Both encode to 15 bytes,
# so swapping one for the other leaves every enclosing length unchanged.
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
_SHA1_WITH_RSA = bytes.fromhex("300d06092a864886f70d0101050500")


def resign_with_sha1(certificate: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Re-sign ``certificate`` with ``issuer_key`` and sha1WithRSAEncryption, and return the result.

    ``certificate`` must have been signed with sha256WithRSAEncryption, so
    that its TBS names that algorithm exactly once.
    """
    tbs = certificate.tbs_certificate_bytes
    if tbs.count(_SHA256_WITH_RSA) != 1:
        raise ValueError("the certificate's TBS does not name sha256WithRSAEncryption exactly once; "
                         "sign it with an RSA key and SHA-256 first")
    sha1_tbs = tbs.replace(_SHA256_WITH_RSA, _SHA1_WITH_RSA)
    signature = issuer_key.sign(sha1_tbs, padding.PKCS1v15(), hashes.SHA1())

    # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = sha1_tbs + _SHA1_WITH_RSA + bit_string
    der = b"\x30" + _der_length(len(body)) + body
    return x509.load_der_x509_certificate(der)


def _der_length(length: int) -> bytes:
    """Encode a DER length: short form below 128, else long form (X.690 section 8.1.3)."""
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets
