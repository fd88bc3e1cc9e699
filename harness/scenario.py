"""The scenario model: a broken mail set-up, its fix, what each should produce, and the lesson.

A scenario is a frozen record composed of parts: the receiving host's
certificate (``pki.CertificateSpec``), its TLS parameters
(``tls.TLSSettings``), its STARTTLS behaviour, extra DNS records, and the
client profile that sends to it. The fixed variant is written in the file as
a difference from the broken one; the loader merges the two, so each variant
here is complete.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from .client import ClientSettings
from .dane import DaneSpec
from .dns import RecordTemplate
from .mtasts import MtaStsSpec
from .outcome import FailureClass, Outcome, Stage, Trust
from .pki import CertificateSpec
from .sender import SenderSettings
from .smtpserver import StartTLS
from .tls import TLSSettings


class Direction(str, enum.Enum):
    """The side of the admin's mail set-up that a scenario exercises."""

    RECEIVING = "receiving"  # the admin's MX receives from a strict sender such as Outlook.com
    SENDING = "sending"  # the admin's MTA sends to a strict receiver such as Outlook.com

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Expectation:
    """The outcome a variant must produce. The class is always checked, the other fields only when given."""

    failure_class: FailureClass
    reason: str = ""
    verify_code: int | None = None
    alert: str | None = None
    reply_code: int | None = None
    stage: Stage | None = None
    trust: Trust | None = None
    enhanced_status: str | None = None  # RFC 3463, e.g. "5.7.25"
    reported: str | None = None  # the TLS-RPT result of the session: a result type or "success"

    @property
    def label(self) -> str:
        if self.failure_class is FailureClass.DELIVERED and self.reported not in (None, "success"):
            return f"delivered, reported {self.reported}"
        return f"{self.failure_class}/{self.reason}" if self.reason else str(self.failure_class)

    def mismatches(self, outcome: Outcome) -> list[str]:
        """Return one line per expected field the outcome does not match; empty when it matches."""
        problems = []
        if outcome.failure_class is not self.failure_class:
            problems.append(f"class: expected {self.failure_class}, observed {outcome.failure_class}")
        if self.reason and outcome.reason != self.reason:
            problems.append(f"reason: expected {self.reason}, observed {outcome.reason or '(none)'}")
        if self.verify_code is not None and outcome.verify_code != self.verify_code:
            problems.append(f"verify code: expected {self.verify_code}, observed {outcome.verify_code}")
        if self.alert is not None and outcome.alert != self.alert:
            problems.append(f"alert: expected {self.alert}, observed {outcome.alert}")
        observed_code = outcome.reply.code if outcome.reply else None
        if self.reply_code is not None and observed_code != self.reply_code:
            problems.append(f"reply code: expected {self.reply_code}, observed {observed_code}")
        if self.stage is not None and outcome.stage is not self.stage:
            problems.append(f"stage: expected {self.stage}, observed {outcome.stage}")
        if self.trust is not None and outcome.trust is not self.trust:
            problems.append(f"trust: expected {self.trust}, observed {outcome.trust}")
        observed_status = outcome.reply.enhanced_status if outcome.reply else None
        if self.enhanced_status is not None and observed_status != self.enhanced_status:
            problems.append(f"enhanced status: expected {self.enhanced_status}, observed {observed_status}")
        if self.reported is not None:
            observed_report = _reported(outcome)
            if observed_report != self.reported:
                problems.append(f"TLS-RPT result: expected {self.reported}, observed {observed_report}")
        return problems


def _reported(outcome: Outcome) -> str:
    if outcome.policy is None:
        return "(no policy evaluated)"
    return str(outcome.policy.result_type) if outcome.policy.result_type else "success"


@dataclass(frozen=True)
class SecondMX:
    """A second MX host of the same domain, ``mx2.<domain>``, with its own certificate.

    It shares the variant's TLS and STARTTLS settings. The first MX always
    has preference 10, so a lower ``preference`` here puts this host first.
    """

    preference: int
    certificate: CertificateSpec = field(default_factory=CertificateSpec)


@dataclass(frozen=True)
class Variant:
    """One complete configuration of the simulated host, and what it must produce."""

    name: str  # "broken" or "fixed"
    expect: Expectation
    certificate: CertificateSpec | None = field(default_factory=CertificateSpec)
    sni_certificates: tuple[tuple[str, CertificateSpec], ...] = ()
    tls: TLSSettings = field(default_factory=TLSSettings)
    starttls: StartTLS = StartTLS.OFFERED
    profile: str = "strict"
    records: tuple[RecordTemplate, ...] = ()  # extra DNS records, filled in per host
    client: ClientSettings = field(default_factory=ClientSettings)
    second_mx: SecondMX | None = None
    sender: SenderSettings | None = None  # the sending host, in sending scenarios only
    mta_sts: MtaStsSpec | None = None  # the domain's MTA-STS TXT record, policy and policy host
    dane: DaneSpec | None = None  # the MX's TLSA records and their DNSSEC status
    require_dane: bool = False  # the sender delivers to this domain only with DANE


@dataclass(frozen=True)
class Lesson:
    """What the admin sees, why, and how to fix it, in plain words."""

    symptoms: str
    cause: str
    fix: str
    outlook: str = ""
    postfix: str = ""
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A catalog entry: slug, group, direction, the two variants and the lesson."""

    slug: str
    group: str
    title: str
    summary: str
    direction: Direction
    broken: Variant
    fixed: Variant
    lesson: Lesson
    requires: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    @property
    def strict_receiver(self) -> bool:
        """True when the admin's MTA sends to the Outlook.com-like receiver (the variants have ``sender``)."""
        return self.direction is Direction.SENDING and self.broken.sender is not None

    @property
    def variants(self) -> tuple[Variant, Variant]:
        return (self.broken, self.fixed)

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ValueError(f"scenario {self.slug} has no variant {name!r}; use broken or fixed")
