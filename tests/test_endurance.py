"""Endurance: the whole catalog, run many times over, leaves nothing behind.

Each round runs ``smtp-harness run`` in-process, so it starts and stops a
whole lab: the PKI with its temporary folder of keys, the CRL repository,
the DNS server, the event loop and one SMTP server per variant. The test
counts open file descriptors (/proc/self/fd), threads and temporary entries
named ``smtp-harness-*`` after a warm-up round and again after the last
round, and none may grow. The rounds are bounded in count and in time,
and the counts are printed with the test's result.
"""

from __future__ import annotations

import gc
import io
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from harness.cli import EXIT_OK, main
from harness.lab import Lab
from harness.testing import peers
from tests.test_hostile_peers import CASES, CLOSE_CASES, SLOW_CASES, _deliver, _peer_host

# A whole-catalog round takes seconds, a round of peers a fraction of one.
CATALOG_ROUNDS = 5
PEER_ROUNDS = 20
TIME_LIMIT = 40.0  # seconds: the loop stops early on a slow machine rather than time out


@dataclass(frozen=True)
class Resources:
    """What a leak would make grow."""

    descriptors: int
    threads: int
    temporary: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.descriptors} open file descriptors, {self.threads} threads, "
                f"{len(self.temporary)} smtp-harness-* temporary entries")


def _measure(folder: Path) -> Resources:
    gc.collect()  # sockets dropped without close() would otherwise linger until collected
    return Resources(
        descriptors=len(os.listdir("/proc/self/fd")),
        threads=threading.active_count(),
        temporary=tuple(sorted(path.name for path in folder.glob("smtp-harness-*"))),
    )


@pytest.fixture
def private_tempdir(tmp_path, monkeypatch) -> Path:
    """A temporary folder of this test's own, so other processes' files do not count."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _repeat(round_: Callable[[], None], limit: int, folder: Path, capsys: pytest.CaptureFixture[str],
            description: str) -> tuple[Resources, Resources]:
    """Run ``round_`` once to warm up, then up to ``limit`` times; check and print the counts."""
    round_()  # warm-up: imports, cached keys, logging set-up
    before = _measure(folder)
    started = time.monotonic()
    rounds = 0
    while rounds < limit and time.monotonic() - started < TIME_LIMIT:
        round_()
        rounds += 1
    after = _measure(folder)

    with capsys.disabled():
        print(f"\n{description}, {rounds} rounds in {time.monotonic() - started:.1f} s\n"
              f"  before: {before}\n  after:  {after}")
    assert rounds >= 2, "too few rounds to tell a leak from noise"
    assert after.descriptors <= before.descriptors, f"descriptors grew: {before} -> {after}"
    assert after.threads <= before.threads, f"threads grew: {before} -> {after}"
    assert after.temporary == before.temporary, f"temporary entries left: {after.temporary}"
    return before, after


def _run_catalog() -> None:
    out = io.StringIO()
    status = main(["run", "--json"], out=out)
    assert status == EXIT_OK, out.getvalue()


def test_catalog_runs_leave_nothing_behind(private_tempdir, capsys):
    _, after = _repeat(_run_catalog, CATALOG_ROUNDS, private_tempdir, capsys, "whole catalog through 'smtp-harness run'")

    assert after.temporary == ()


def test_hostile_peers_leave_nothing_behind(private_tempdir, capsys):
    # The fast cases only: the slow ones would spend the rounds waiting for timeouts.
    behaviours = [case.behaviour for name, case in (*CASES.items(), *CLOSE_CASES.items())
                  if name not in SLOW_CASES]
    behaviours.append(peers.dialogue())

    with Lab() as lab:
        def one_round() -> None:
            for behaviour in behaviours:
                with _peer_host(lab, behaviour) as (_, recipient, network):
                    _deliver(lab, network, recipient)

        _repeat(one_round, PEER_ROUNDS, private_tempdir, capsys, f"{len(behaviours)} hostile and healthy peers")
