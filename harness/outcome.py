"""What one delivery attempt observed, in the field's own terms.

Failure classes reuse the result types of TLS-RPT (RFC 8460, section 4.3)
where one fits, because those are the words mail operators already read in
their aggregate reports. A finer reason of ours sits beside the class: the
TLS-RPT type ``certificate-not-trusted`` covers a self-signed leaf and an
incomplete chain alike, but the fix differs.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

if TYPE_CHECKING:
    from .policy import PolicyResult

# RFC 3463 section 2: class.subject.detail, class 2, 4 or 5.
_ENHANCED_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


class FailureClass(str, enum.Enum):
    """The observed class of a delivery attempt."""

    DELIVERED = "delivered"

    # RFC 8460 section 4.3.1, negotiation failures.
    STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
    CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
    VALIDATION_FAILURE = "validation-failure"

    # RFC 8460 section 4.3.2, policy failures (MTA-STS and DANE).
    TLSA_INVALID = "tlsa-invalid"
    DNSSEC_INVALID = "dnssec-invalid"
    DANE_REQUIRED = "dane-required"
    STS_POLICY_FETCH_ERROR = "sts-policy-fetch-error"
    STS_POLICY_INVALID = "sts-policy-invalid"
    STS_WEBPKI_INVALID = "sts-webpki-invalid"

    # Failures outside TLS, which TLS-RPT does not report: ours.
    DNS_FAILURE = "dns-failure"
    CONNECTION_FAILURE = "connection-failure"
    SMTP_REJECTED = "smtp-rejected"
    PROTOCOL_ERROR = "protocol-error"

    def __str__(self) -> str:
        return self.value


class Stage(str, enum.Enum):
    """The step of the SMTP dialogue at which an attempt stopped."""

    DNS = "dns"
    CONNECT = "connect"
    BANNER = "banner"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    HANDSHAKE = "handshake"
    CERTIFICATE = "certificate"
    REVOCATION = "revocation"
    POLICY = "policy"  # a policy (MTA-STS or DANE) ruled out connecting at all
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    QUIT = "quit"

    def __str__(self) -> str:
        return self.value


class Trust(str, enum.Enum):
    """How far the channel was authenticated, in Postfix's trust levels."""

    NONE = "none"  # plaintext, no TLS at all
    ANONYMOUS = "anonymous"  # TLS without a server certificate
    UNTRUSTED = "untrusted"  # TLS, certificate not verified or verification failed
    TRUSTED = "trusted"  # chain verified, name not checked
    VERIFIED = "verified"  # chain and name verified

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Reply:
    """One complete SMTP reply: the code and its text lines."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def enhanced_status(self) -> str | None:
        """The RFC 3463 enhanced status code that opens the text (``5.7.1``), if there is one."""
        first = self.text.split(" ", 1)[0]
        return first if _ENHANCED_STATUS.match(first) else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".rstrip()


@dataclass(frozen=True)
class Outcome:
    """The frozen result of one delivery attempt by a client.

    ``failure_class`` is DELIVERED when the message was accepted. ``error`` is
    the exact error as Python's ssl module (or the client) reported it, which
    is what an admin finds in a log. ``verify_code`` is OpenSSL's
    X509_V_ERR_* number, ``alert`` the TLS alert description received from the
    peer, and ``reply`` the SMTP reply that ended the attempt, when there was one.
    """

    failure_class: FailureClass
    reason: str = ""
    stage: Stage | None = None
    error: str = ""
    verify_code: int | None = None
    verify_message: str = ""
    alert: str | None = None
    reply: Reply | None = None
    protocol: str | None = None
    cipher: str | None = None
    trust: Trust = Trust.NONE
    mx_host: str | None = None
    mx_address: str | None = None
    mx_port: int | None = None
    transcript: tuple[str, ...] = ()
    duration_s: float = 0.0
    profile: str = "strict"
    attempts: tuple["Outcome", ...] = field(default=(), repr=False)
    policy: "PolicyResult | None" = None  # the session as TLS-RPT counts it (policy-aware senders)

    @property
    def delivered(self) -> bool:
        return self.failure_class is FailureClass.DELIVERED

    @property
    def label(self) -> str:
        """The class and the finer reason as one token, e.g. ``certificate-not-trusted/self-signed``."""
        if self.delivered and self.policy is not None and self.policy.result_type is not None:
            return f"delivered, reported {self.policy.result_type}"  # MTA-STS testing mode, unusable policy
        if self.reason:
            return f"{self.failure_class}/{self.reason}"
        return str(self.failure_class)

    def to_dict(self) -> dict[str, object]:
        return {
            "class": str(self.failure_class),
            "reason": self.reason,
            "delivered": self.delivered,
            "stage": str(self.stage) if self.stage else None,
            "error": self.error,
            "verify_code": self.verify_code,
            "verify_message": self.verify_message,
            "alert": self.alert,
            "reply_code": self.reply.code if self.reply else None,
            "enhanced_status": self.reply.enhanced_status if self.reply else None,
            "reply": str(self.reply) if self.reply else None,
            "protocol": self.protocol,
            "cipher": self.cipher,
            "trust": str(self.trust),
            "mx_host": self.mx_host,
            "mx_address": self.mx_address,
            "profile": self.profile,
            "duration_ms": round(self.duration_s * 1000, 2),
            "transcript": list(self.transcript),
            # One entry per MX address tried, so a run shows which host failed.
            "attempts": [
                {"mx_host": attempt.mx_host, "mx_address": attempt.mx_address, "class": str(attempt.failure_class),
                 "reason": attempt.reason, "verify_code": attempt.verify_code}
                for attempt in self.attempts
            ],
            "policy": self.policy.to_dict() if self.policy else None,
        }
