"""Running a catalog on every core: a share of the variants per process, threads inside each.

Client, servers and DNS of one lab live in one interpreter, so a run uses
one core at a time: the TLS handshakes, dnslib and aiosmtpd all hold the
GIL while they work. On a machine with more cores, ``run_catalog`` forks
one child per core before any thread starts. Each child starts its own lab
(its own PKI, DNS server and event loop, so processes share nothing) and
runs its share with a thread pool. Results come back in
catalog order, exactly as ``runner.run_scenarios`` returns them.

Forking is only safe while the process has a single thread (a lock held by
another thread at fork time stays locked forever in the child), so with
other threads running, or where ``fork`` does not exist, the catalog runs
in this process instead.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading

from .lab import Lab, iter_variants
from .outcome import FailureClass
from .pki import KeyKind, _leaf_key
from .runner import VariantResult, default_workers, run_one
from .scenario import Scenario, Variant

# Below this many variants per extra process, forking costs more than it saves
# (an estimate: a child costs about 10 ms to fork and start its lab, a variant 5 to 10 ms).
MIN_VARIANTS_PER_PROCESS = 8


def default_processes(variant_count: int) -> int:
    """Return one process per core, fewer for a small catalog, and 1 where forking is unavailable."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, variant_count // MIN_VARIANTS_PER_PROCESS))


def run_catalog(scenarios: list[Scenario], workers: int | None = None,
                processes: int | None = None) -> list[VariantResult]:
    """Run both variants of every scenario across processes and threads; results in catalog order."""
    pairs = list(iter_variants(scenarios))
    order = _waiting_first(pairs)
    count = processes if processes is not None else default_processes(len(pairs))
    # A process with no variant to run would only cost its start-up.
    count = max(1, min(count, len(pairs)))
    if count <= 1 or threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return _in_catalog_order([order], [_run_share([pairs[i] for i in order], workers)], len(pairs))

    _prepare_keys(pairs)
    shares = [order[index::count] for index in range(count)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = [pool.submit(_run_share, [pairs[i] for i in share], workers) for share in shares]
        by_share = [future.result() for future in futures]
    return _in_catalog_order(shares, by_share, len(pairs))


def _waiting_first(pairs: list[tuple[Scenario, Variant]]) -> list[int]:
    """Return the pairs' indices with the variants that wait for a timeout first.

    A scenario shortens a client timeout exactly when its peer stays silent
    (a hanging STARTTLS, an unreachable CRL), so that variant spends its
    time waiting, not computing. Started first, its wait overlaps the other
    variants' work instead of trailing the run.
    """
    return sorted(range(len(pairs)), key=lambda index: not _waits_for_timeout(pairs[index][1]))


def _waits_for_timeout(variant: Variant) -> bool:
    # The fixed variant inherits the shortened timeout but is expected to deliver.
    if variant.expect.failure_class is FailureClass.DELIVERED:
        return False
    settings = getattr(variant, "client", None)
    names = ("reply_timeout", "handshake_timeout", "revocation_timeout")
    return any(getattr(settings, name, None) is not None for name in names)


def _run_share(pairs: list[tuple[Scenario, Variant]], workers: int | None) -> list[VariantResult]:
    """Run some variants in one lab of this process, with a thread pool."""
    count = workers if workers is not None else default_workers()
    with Lab() as lab:
        if count <= 1:
            return [run_one(lab, scenario, variant) for scenario, variant in pairs]
        with concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="variant") as pool:
            futures = [pool.submit(run_one, lab, scenario, variant) for scenario, variant in pairs]
            return [future.result() for future in futures]


def _prepare_keys(pairs: list[tuple[Scenario, Variant]]) -> None:
    # Generating the leaf keys before the fork gives every child the same
    # keys for free, instead of one RSA key generation per child.
    kinds = {spec.key for _, variant in pairs for spec in _specs(variant)}
    for kind in sorted(kinds or {KeyKind.RSA2048}, key=lambda k: k.value):
        _leaf_key(kind)


def _specs(variant: Variant) -> list:  # type: ignore[type-arg]
    specs = [variant.certificate] if variant.certificate else []
    return specs + [spec for _, spec in variant.sni_certificates]


def _in_catalog_order(shares: list[list[int]], by_share: list[list[VariantResult]],
                      total: int) -> list[VariantResult]:
    # shares[k][j] is the catalog index of by_share[k][j]: put each result back there.
    results: list[VariantResult | None] = [None] * total
    for indices, share in zip(shares, by_share):
        for index, result in zip(indices, share):
            results[index] = result
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]
