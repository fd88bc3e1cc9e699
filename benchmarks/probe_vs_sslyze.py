"""Benchmark: probe against sslyze on an old appliance (TLS 1.0 only, self-signed), both on loopback.

The host is tests/probe_hosts/appliance-tls10-self-signed.toml, started in
the lab. probe runs in-process; sslyze runs as the command an admin would
type (STARTTLS SMTP, the MX name as SNI, the lab's CA file for its
certificate check), pointed at the same loopback address with sslyze's
``host:port{address}`` syntax, so neither tool makes a DNS query.

sslyze is not a dependency of the harness: it pins an older cryptography
release. Install it in a separate venv and pass its command:

    python3 -m venv .venv-sslyze && .venv-sslyze/bin/pip install sslyze
    .venv/bin/python benchmarks/probe_vs_sslyze.py --sslyze .venv-sslyze/bin/sslyze

It prints the median wall time of each tool over --runs runs, checks that
probe named both problems, and exits 1 when probe's median is not under a
tenth of sslyze's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import timeouts
from harness.catalog import load_catalog, load_scenario
from harness.findings import Severity
from harness.lab import Lab
from harness.probe import ProbeConfig, probe

HOST_FILE = Path(__file__).resolve().parent.parent / "tests" / "probe_hosts" / "appliance-tls10-self-signed.toml"
EXPECTED = {"validation-failure/protocol-version", "certificate-not-trusted/self-signed"}


def time_probe(config: ProbeConfig, runs: int) -> tuple[float, set[str]]:
    catalog = load_catalog()
    durations, found = [], set()
    for _ in range(runs):
        started = time.perf_counter()
        report = probe(config, catalog)
        durations.append(time.perf_counter() - started)
        found = {f"{f.label} -> {f.lesson}" for f in report.findings if f.severity is Severity.ERROR}
    return statistics.median(durations), found


def time_sslyze(command: str, mx: str, address: str, port: int, cafile: str, runs: int) -> float:
    argv = [command, "--starttls", "smtp", "--sni", mx, "--certinfo", "--certinfo_ca_file", cafile,
            "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--quiet", f"{mx}:{port}{{{address}}}"]
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True, timeout=timeouts.TOOL_TIMEOUT * 6)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="probe against sslyze on a TLS-1.0-only, self-signed host")
    parser.add_argument("--sslyze", default="sslyze", help="the sslyze command (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (default: %(default)s)")
    args = parser.parse_args(argv)

    scenario = load_scenario(HOST_FILE)
    with Lab() as lab, lab.host(scenario, "broken") as host:
        config = ProbeConfig(host=host.mx, port=host.address.port, cafile=host.cafile, resolver=host.dns_server)
        probe_s, found = time_probe(config, args.runs)
        sslyze_s = time_sslyze(args.sslyze, host.mx, host.address.address, host.address.port, host.cafile, args.runs)

    labels = {line.split(" -> ")[0] for line in found}
    ratio = probe_s / sslyze_s
    print(f"probe:  {probe_s * 1000:8.1f} ms median of {args.runs}; findings: {', '.join(sorted(found))}")
    print(f"sslyze: {sslyze_s * 1000:8.1f} ms median of {args.runs}")
    print(f"probe takes {ratio:.1%} of sslyze's time (goal: under 10%)")
    if labels != EXPECTED:
        print(f"probe missed {sorted(EXPECTED - labels)}", file=sys.stderr)
        return 1
    return 0 if ratio < 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
