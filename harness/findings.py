"""Findings of a probe: each problem a strict peer would see on a mail host, and the lesson for it.

A finding carries the failure class and reason the strict client would
report (the same words as a scenario's expected outcome), a severity, the
evidence the probe collected, and the catalog scenario that teaches the
problem. The scenario is looked up in the catalog loaded at run time: a
finding names a lesson only when that lesson exists, so a report never sends
the reader to a missing page.

Each severity names what Outlook.com would do:

- ``error``: a sender with TLS enforced (forced-TLS connector, MTA-STS in
  enforce mode, DANE) refuses the host; the probe exits with "would be refused";
- ``warning``: accepted today, but weak or one change away from refusal;
- ``info``: a fact worth knowing that changes no verdict.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

from .outcome import FailureClass

if TYPE_CHECKING:
    from typing import Protocol

    from .lessonindex import LessonEntry

    class LessonSource(Protocol):
        """A catalog, or the quick lesson index: the slugs and what each broken variant fails with."""

        @property
        def slugs(self) -> list[str]: ...

        def lesson_entries(self) -> tuple["LessonEntry", ...]: ...


class Severity(str, enum.Enum):
    """The effect of a finding on delivery from a strict peer."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One problem (or notable fact) about the probed host.

    ``check`` names the probe step that found it (``protocol-versions``,
    ``leaf-names``...). ``hints`` are catalog slugs that teach this exact
    problem, best first. ``lesson`` is the first of them present in the
    loaded catalog, else a scenario whose broken variant fails the same way.
    """

    check: str
    failure_class: FailureClass
    reason: str
    severity: Severity
    summary: str
    evidence: tuple[str, ...] = ()
    verify_code: int | None = None
    alert: str | None = None
    reply_code: int | None = None
    hints: tuple[str, ...] = field(default=(), compare=False)
    lesson: str | None = None
    host: str = ""  # the MX host, address and port where it was found

    @property
    def label(self) -> str:
        return f"{self.failure_class}/{self.reason}" if self.reason else str(self.failure_class)

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "host": self.host,
            "class": str(self.failure_class),
            "reason": self.reason,
            "severity": str(self.severity),
            "summary": self.summary,
            "evidence": list(self.evidence),
            "verify_code": self.verify_code,
            "alert": self.alert,
            "reply_code": self.reply_code,
            "lesson": self.lesson,
            "explain": f"smtp-harness explain {self.lesson}" if self.lesson else None,
        }


def lesson_for(finding: Finding, catalog: LessonSource) -> str | None:
    """Return the catalog slug that teaches ``finding``, or None when the catalog has none.

    The finding's own hints come first (they tell apart problems that fail
    the same way, such as a wrong host name and a common name without
    subjectAltName). Otherwise any receiving scenario whose broken variant
    expects the same class and reason is the lesson.
    """
    known = set(catalog.slugs)
    for slug in finding.hints:
        if slug in known:
            return slug
    for entry in catalog.lesson_entries():
        if entry.direction == "receiving" and entry.failure_class == finding.failure_class.value \
                and entry.reason == finding.reason:
            return entry.slug
    return None


def with_lessons(findings: list[Finding], catalog: LessonSource) -> list[Finding]:
    """Attach the lesson slug to every finding, using only slugs present in ``catalog``."""
    import dataclasses

    return [dataclasses.replace(finding, lesson=lesson_for(finding, catalog)) for finding in findings]


def deduplicate(findings: list[Finding]) -> list[Finding]:
    """Keep the first finding per class and reason, because a later one describes the same problem."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for finding in findings:
        key = (str(finding.failure_class), finding.reason)
        if key in seen:
            continue
        seen.add(key)
        kept.append(finding)
    return kept


SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def ordered(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then information; otherwise in the order found."""
    return sorted(findings, key=lambda finding: SEVERITY_ORDER[finding.severity])
