"""Running scenarios: each variant against its expectation, concurrently, with a result per variant."""

from __future__ import annotations

import concurrent.futures
import os
from dataclasses import dataclass, field

from . import capabilities
from .lab import Lab, iter_variants
from .outcome import Outcome
from .scenario import Expectation, Scenario, Variant


@dataclass(frozen=True)
class VariantResult:
    """One variant's run: what was expected, what was observed, and whether they match."""

    scenario: Scenario
    variant: Variant
    outcome: Outcome | None
    problems: tuple[str, ...] = ()
    skipped: str | None = None  # the reason, when the machine cannot run it
    error: str | None = field(default=None)  # the harness itself failed

    @property
    def expectation(self) -> Expectation:
        return self.variant.expect

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.error is None and not self.problems

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        return "ok" if self.ok else "FAIL"

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "scenario": self.scenario.slug,
            "group": self.scenario.group,
            "direction": str(self.scenario.direction),
            "variant": self.variant.name,
            "expected": self.expectation.label,
            "observed": self.outcome.label if self.outcome else None,
            "ok": self.ok,
            "status": self.status,
            "problems": list(self.problems),
            "skipped": self.skipped,
            "error": self.error,
        }
        if self.outcome is not None:
            data["outcome"] = self.outcome.to_dict()
        return data


def default_workers() -> int:
    """Concurrent variants: the work is I/O-bound on loopback, so a few per core."""
    return max(2, min(16, 4 * (os.cpu_count() or 1)))


def run_one(lab: Lab, scenario: Scenario, variant: Variant) -> VariantResult:
    """Run one variant and compare its outcome with the expectation."""
    assert lab.pki is not None
    for requirement in scenario.requires:
        reason = capabilities.missing(requirement, lab.pki)
        if reason:
            return VariantResult(scenario, variant, None, skipped=reason)
    try:
        outcome = lab.run_variant(scenario, variant)
    except Exception as error:  # reported per variant so one broken set-up does not stop the run
        return VariantResult(scenario, variant, None, error=f"{type(error).__name__}: {error}")
    return VariantResult(scenario, variant, outcome, tuple(variant.expect.mismatches(outcome)))


def run_scenarios(lab: Lab, scenarios: list[Scenario], workers: int | None = None) -> list[VariantResult]:
    """Run both variants of every scenario; results come back in catalog order."""
    pairs = list(iter_variants(scenarios))
    count = workers if workers is not None else default_workers()
    if count <= 1:
        return [run_one(lab, scenario, variant) for scenario, variant in pairs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="variant") as pool:
        futures = [pool.submit(run_one, lab, scenario, variant) for scenario, variant in pairs]
        return [future.result() for future in futures]
