"""Turning what Python's ssl module raised into the field's failure classes.

The match is on OpenSSL's verify code and reason token, never on message
text: the text changes between OpenSSL releases ("self signed certificate" in
1.1, "self-signed certificate" in 3.0) and carries a ``(_ssl.c:NNNN)`` suffix
that changes between Python builds.

Verify codes are OpenSSL's X509_V_ERR_* numbers (include/openssl/x509_vfy.h,
documented in openssl-verify(1)).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

from .outcome import FailureClass

C = FailureClass

# verify code -> (class, reason)
VERIFY_CODES: dict[int, tuple[FailureClass, str]] = {
    2: (C.CERTIFICATE_NOT_TRUSTED, "unknown-issuer"),  # unable to get issuer certificate
    3: (C.VALIDATION_FAILURE, "crl-unavailable"),  # unable to get certificate CRL
    7: (C.VALIDATION_FAILURE, "bad-signature"),  # certificate signature failure
    8: (C.VALIDATION_FAILURE, "crl-signature-invalid"),  # CRL signature failure
    9: (C.VALIDATION_FAILURE, "not-yet-valid"),  # certificate is not yet valid
    10: (C.CERTIFICATE_EXPIRED, "expired"),  # certificate has expired
    12: (C.VALIDATION_FAILURE, "crl-expired"),  # CRL has expired
    18: (C.CERTIFICATE_NOT_TRUSTED, "self-signed"),  # self-signed certificate
    19: (C.CERTIFICATE_NOT_TRUSTED, "untrusted-root"),  # self-signed certificate in chain
    20: (C.CERTIFICATE_NOT_TRUSTED, "unknown-issuer"),  # unable to get local issuer certificate
    21: (C.CERTIFICATE_NOT_TRUSTED, "incomplete-chain"),  # unable to verify the first certificate
    23: (C.VALIDATION_FAILURE, "certificate-revoked"),  # certificate revoked
    62: (C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch"),  # hostname mismatch
    64: (C.CERTIFICATE_HOST_MISMATCH, "ip-mismatch"),  # IP address mismatch
    66: (C.VALIDATION_FAILURE, "key-too-weak"),  # EE certificate key too weak
    67: (C.VALIDATION_FAILURE, "key-too-weak"),  # CA certificate key too weak
    68: (C.VALIDATION_FAILURE, "weak-signature"),  # CA signature digest algorithm too weak
    74: (C.VALIDATION_FAILURE, "ocsp-unavailable"),  # OCSP verification failed
    75: (C.VALIDATION_FAILURE, "ocsp-unknown"),  # OCSP unknown cert
}

# OpenSSL reason token -> our reason, for handshakes that fail before or
# without certificate verification.
HANDSHAKE_REASONS: dict[str, str] = {
    "TLSV1_ALERT_PROTOCOL_VERSION": "protocol-version",
    "UNSUPPORTED_PROTOCOL": "protocol-version",
    "NO_PROTOCOLS_AVAILABLE": "protocol-version",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "no-shared-cipher",
    "NO_SHARED_CIPHER": "no-shared-cipher",
    "NO_CIPHERS_AVAILABLE": "no-shared-cipher",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY": "no-shared-cipher",
    "DH_KEY_TOO_SMALL": "weak-dh",
    "WRONG_VERSION_NUMBER": "not-tls",
    "RECORD_LAYER_FAILURE": "not-tls",
    "PACKET_LENGTH_TOO_LONG": "not-tls",
    "UNEXPECTED_EOF_WHILE_READING": "handshake-eof",
    "TLSV1_ALERT_UNRECOGNIZED_NAME": "unrecognized-name",
    "TLSV1_ALERT_INTERNAL_ERROR": "peer-internal-error",
    "LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED": "legacy-signature-algorithm",
    "NO_SUITABLE_SIGNATURE_ALGORITHM": "legacy-signature-algorithm",
}

_ALERT_TOKEN = re.compile(r"^(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$")


@dataclass(frozen=True)
class TLSFailure:
    """A classified TLS error."""

    failure_class: FailureClass
    reason: str
    verify_code: int | None = None
    verify_message: str = ""
    alert: str | None = None
    openssl_reason: str | None = None


def alert_from_reason(token: str | None) -> str | None:
    """Return the TLS alert a reason token reports as received, e.g. ``protocol_version``."""
    if not token:
        return None
    match = _ALERT_TOKEN.match(token)
    return match.group(1).lower() if match else None


def classify_verify_code(code: int, message: str = "") -> TLSFailure:
    failure_class, reason = VERIFY_CODES.get(code, (C.VALIDATION_FAILURE, f"verify-error-{code}"))
    return TLSFailure(failure_class, reason, verify_code=code, verify_message=message)


def classify_tls_error(error: BaseException) -> TLSFailure:
    """Classify an exception raised by a TLS handshake."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return classify_verify_code(error.verify_code, error.verify_message)
    if isinstance(error, ssl.SSLError):
        token = error.reason
        alert = alert_from_reason(token)
        reason = HANDSHAKE_REASONS.get(token or "")
        if reason is None:
            reason = f"alert-{alert.replace('_', '-')}" if alert else "handshake-failure"
        if isinstance(error, ssl.SSLEOFError) and token is None:
            reason = "handshake-eof"
        return TLSFailure(C.VALIDATION_FAILURE, reason, alert=alert, openssl_reason=token)
    if isinstance(error, TimeoutError):
        return TLSFailure(C.STARTTLS_NOT_SUPPORTED, "handshake-timeout")
    if isinstance(error, ConnectionResetError):
        # A TCP RST instead of the server's next record ("Connection reset by
        # peer"), which a server log tells apart from a plain close.
        return TLSFailure(C.VALIDATION_FAILURE, "handshake-reset")
    if isinstance(error, ConnectionError):
        return TLSFailure(C.VALIDATION_FAILURE, "handshake-eof")
    return TLSFailure(C.VALIDATION_FAILURE, "handshake-failure")
