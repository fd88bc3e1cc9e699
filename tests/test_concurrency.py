"""Concurrency: variants run side by side in one lab observe what they observe one at a time.

The lab shares its DNS server, PKI, repository and event loop between
hosts. Each host has its own domain, address and records, so running the
catalog with many workers must not change a single outcome. Timings are
the benchmark's business (benchmarks/run.py), never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness import timeouts
from harness.catalog import load_catalog
from harness.lab import Lab
from harness.parallel import run_catalog
from harness.runner import VariantResult, run_scenarios
from harness.tls import shared_client_context


def _observed(results: list[VariantResult]) -> list[tuple[str, str, str, str | None]]:
    return [(r.scenario.slug, r.variant.name, r.status, r.outcome.label if r.outcome else None) for r in results]


@pytest.fixture(scope="module")
def sequential() -> list[tuple[str, str, str, str | None]]:
    with Lab() as lab:
        return _observed(run_scenarios(lab, load_catalog().scenarios, workers=1))


def test_threads_match_sequential_run(sequential) -> None:  # type: ignore[no-untyped-def]
    with Lab() as lab:
        concurrent = run_scenarios(lab, load_catalog().scenarios, workers=8)

    assert _observed(concurrent) == sequential
    assert all(status in ("ok", "skipped") for _, _, status, _ in sequential)


def test_client_contexts_are_shared_per_trust_store() -> None:
    # One lab's root gives one shared context; another lab's root, another one.
    with Lab() as lab, Lab() as other:
        first = shared_client_context(lab.cafile, verify=True)
        again = shared_client_context(lab.cafile, verify=True)
        elsewhere = shared_client_context(other.cafile, verify=True)

    assert first is again
    assert elsewhere is not first
    assert shared_client_context(None, verify=False) is not first


def test_processes_match_sequential_run(sequential) -> None:  # type: ignore[no-untyped-def]
    # A fresh interpreter, because forking is only done while a single thread
    # runs, and this test process already has the session lab's threads.
    command = [sys.executable, "-m", "harness", "run", "--json", "--processes", "2", "--workers", "4"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=timeouts.TOOL_TIMEOUT)
    forked = [json.loads(line) for line in finished.stdout.splitlines()]

    assert finished.returncode == 0, finished.stderr
    assert [(r["scenario"], r["variant"], r["status"], r["observed"]) for r in forked] == sequential


def test_waiting_variants_first_keeps_catalog_order(sequential) -> None:  # type: ignore[no-untyped-def]
    # run_catalog starts the variants that wait for a timeout first, then
    # puts every result back at its catalog position.
    reordered = run_catalog(load_catalog().scenarios, workers=8, processes=1)

    assert _observed(reordered) == sequential
