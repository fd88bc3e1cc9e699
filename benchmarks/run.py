"""Benchmark of smtp-tls-harness on this machine, in one run, as ratios to a floor measured alongside.

Run from the repository root with the project's venv:

    .venv/bin/python benchmarks/run.py            # everything, Markdown report on stdout
    .venv/bin/python benchmarks/run.py --quick    # fewer repetitions, no full testssl.sh run

What it measures (docs/benchmarks.md explains each figure and the targets):

1. the floor: one bare SMTP session with STARTTLS and verification
   (connect, banner, EHLO, STARTTLS, handshake, EHLO, QUIT) to a healthy
   simulated host, from a client that keeps its TLS context;
2. per scenario variant: the time of ``run_one`` (start the host, deliver,
   classify, stop the host) against that floor;
3. ``smtp-harness run`` over the whole catalog as a subprocess, with
   ``--workers 1`` and with the default concurrency: wall time, peak memory,
   and whether both runs observed the same results;
4. the start-up and shutdown cost of each part of a lab;
5. growth: the catalog at 1x, 4x and 16x renamed copies in one lab;
6. diagnosis of one broken server (TLS 1.0 only, self-signed) by the
   harness, by sslyze and by testssl.sh when they are installed.

Everything binds and connects on loopback only. sslyze and testssl.sh are
pointed only at the server this script starts; testssl.sh runs with
NXCONNECT=127.0.0.1:0 and ``--nodns none`` so its OpenSSL feature probes
send no DNS look-up to the system resolver.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import os
import platform
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from harness import timeouts  # noqa: E402
from harness.catalog import load_catalog  # noqa: E402
from harness.client import STRICT, Network, SMTPClient  # noqa: E402
from harness.dns import DnsServer, Zone  # noqa: E402
from harness.eventloop import EventLoopThread  # noqa: E402
from harness.lab import Lab  # noqa: E402
from harness.outcome import FailureClass  # noqa: E402
from harness.parallel import run_catalog  # noqa: E402
from harness.pki import CertificateSpec, Issuer, SimulatedPKI  # noqa: E402
from harness.repository import RepositoryServer  # noqa: E402
from harness.runner import default_workers, run_one, run_scenarios  # noqa: E402
from harness.scenario import Direction, Expectation, Lesson, Scenario, Variant  # noqa: E402
from harness.smtpserver import MailServer, ServerConfig  # noqa: E402
from harness.tls import TLSSettings, Version, strict_client_context  # noqa: E402

# A third-party scan gets this long before it counts as hung.
TOOL_LIMIT = 600.0


# Helpers

def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def synthetic_scenario(slug: str, variant: Variant) -> Scenario:
    """Build a scenario with the lab API rather than read it from the catalog."""
    lesson = Lesson(symptoms="benchmark", cause="benchmark", fix="benchmark")
    return Scenario(slug=slug, group="benchmark", title=slug, summary=slug, direction=Direction.RECEIVING,
                    broken=variant, fixed=dataclasses.replace(variant, name="fixed"), lesson=lesson)


HEALTHY = synthetic_scenario("bench-healthy", Variant(name="broken", expect=Expectation(FailureClass.DELIVERED)))
BROKEN = synthetic_scenario("bench-tls10-self-signed", Variant(
    name="broken",
    expect=Expectation(FailureClass.VALIDATION_FAILURE, "protocol-version"),
    certificate=CertificateSpec(issuer=Issuer.SELF),
    tls=TLSSettings(min_version=Version.TLS1_0, max_version=Version.TLS1_0, security_level=0),
))


# 1. The floor

def floor_session(address: str, port: int, mx: str, context: ssl.SSLContext) -> None:
    """Run one bare verified STARTTLS session: connect, banner, EHLO, STARTTLS, handshake, EHLO, QUIT."""
    with socket.create_connection((address, port), timeout=timeouts.CONNECT_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        expect(reader, 220)
        sock.sendall(b"EHLO floor.test\r\n")
        expect(reader, 250)
        sock.sendall(b"STARTTLS\r\n")
        expect(reader, 220)
        reader.close()
        with context.wrap_socket(sock, server_hostname=mx) as tls:
            reader = tls.makefile("rb")
            tls.sendall(b"EHLO floor.test\r\n")
            expect(reader, 250)
            tls.sendall(b"QUIT\r\n")
            expect(reader, 221)
            reader.close()


def expect(reader, code: int) -> None:  # type: ignore[no-untyped-def]
    while True:
        line = reader.readline(4096)
        if not line:
            raise ConnectionError("the server closed the connection")
        if line[3:4] != b"-":
            break
    if int(line[:3]) != code:
        raise ConnectionError(f"expected {code}, got {line!r}")


def measure_floor(lab: Lab, repeat: int) -> dict[str, float]:
    context = strict_client_context(lab.cafile)
    with lab.host(HEALTHY, "broken") as host:
        where = host.address

        def session() -> None:
            floor_session(where.address, where.port, where.mx, context)

        session()  # warm-up: the first handshake pays for lazy OpenSSL initialisation
        samples = timed(session, repeat)
    return {"median_ms": median_ms(samples), "min_ms": min(samples) * 1000, "sessions": repeat}


# 2. Per variant

def measure_variants(lab: Lab, scenarios: list[Scenario], repeat: int, floor_ms: float) -> list[dict[str, object]]:
    rows = []
    for scenario in scenarios:
        for variant in scenario.variants:
            run_one(lab, scenario, variant)  # warm-up: issues the variant's certificates once
            samples, result = [], None
            for _ in range(repeat):
                started = time.perf_counter()
                result = run_one(lab, scenario, variant)
                samples.append(time.perf_counter() - started)
            assert result is not None
            total = median_ms(samples)
            rows.append({
                "scenario": scenario.slug, "variant": variant.name, "status": result.status,
                "observed": result.outcome.label if result.outcome else None,
                "total_ms": total,
                "delivery_ms": (result.outcome.duration_s or 0) * 1000 if result.outcome else None,
                "ratio": total / floor_ms,
            })
    return rows


# 3. The command line

CLI_MODES = (
    ("sequential", ["--workers", "1", "--processes", "1"]),
    ("threads, one process", ["--processes", "1"]),
    ("default (processes and threads)", []),
)


def measure_cli(repeat: int, floor_ms: float) -> dict[str, object]:
    results: dict[str, object] = {}
    observed: dict[str, list[tuple[str, str, str]]] = {}
    for label, options in CLI_MODES:
        walls, peaks, codes = [], [], set()
        for _ in range(repeat):
            run = run_cli_with_rusage(["run", "--json", *options])
            walls.append(run["wall_s"])
            peaks.append(run["maxrss_kb"])
            codes.add(run["returncode"])
            lines = [json.loads(line) for line in str(run["stdout"]).splitlines() if line.strip()]
            observed[label] = [(r["scenario"], r["variant"], r["status"] + ":" + str(r["observed"])) for r in lines]
        variants = len(observed[label])
        wall_ms = statistics.median(walls) * 1000
        results[label] = {
            "options": " ".join(options) or "(none)", "variants": variants, "wall_ms": wall_ms,
            "peak_rss_mb": max(peaks) / 1024, "returncodes": sorted(codes),
            "per_variant_ms": wall_ms / max(1, variants), "per_variant_ratio": wall_ms / max(1, variants) / floor_ms,
        }
    first = observed[CLI_MODES[0][0]]
    results["same_results"] = all(observed[label] == first for label, _ in CLI_MODES)
    return results


def run_cli_with_rusage(args: list[str]) -> dict[str, object]:
    """Run smtp-harness in a fresh interpreter; return its wall time, peak RSS and output.

    ``os.wait4`` gives this child's own resource usage (with its forked
    children), where RUSAGE_CHILDREN would give a maximum over every run.
    """
    command = [sys.executable, "-m", "harness", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": wall, "returncode": process.returncode, "maxrss_kb": usage.ru_maxrss,
                "stdout": out.read().decode(), "stderr": err.read().decode()}


# 4. Parts

def measure_parts(repeat: int) -> list[dict[str, object]]:
    rows = []

    def part(name: str, start: Callable[[], object], stop: Callable[[object], None]) -> None:
        starts, stops = [], []
        for _ in range(repeat):
            began = time.perf_counter()
            thing = start()
            started = time.perf_counter()
            stop(thing)
            stops.append(time.perf_counter() - started)
            starts.append(started - began)
        rows.append({"part": name, "start_ms": median_ms(starts), "stop_ms": median_ms(stops)})

    part("interpreter alone (python -c pass)", lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
         lambda _: None)
    part("interpreter + import harness.cli", lambda: subprocess.run(
        [sys.executable, "-c", "import harness.cli"], cwd=ROOT, check=True), lambda _: None)
    part("RSA-2048 leaf key (once per process)",
         lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), lambda _: None)
    part("PKI (roots, intermediate, CA file)", lambda: SimulatedPKI().__enter__(),
         lambda pki: pki.__exit__(None, None, None))  # type: ignore[attr-defined]
    part("PKI repository (HTTP, CRLs)", lambda: RepositoryServer().__enter__(),
         lambda server: server.__exit__(None, None, None))  # type: ignore[attr-defined]
    part("DNS server (UDP and TCP)", lambda: DnsServer(Zone()).__enter__(),
         lambda server: server.__exit__(None, None, None))  # type: ignore[attr-defined]
    part("event loop thread", lambda: EventLoopThread().__enter__(),
         lambda loop: loop.__exit__(None, None, None))  # type: ignore[attr-defined]
    part("whole lab", lambda: Lab().__enter__(), lambda lab: lab.__exit__(None, None, None))  # type: ignore[attr-defined]

    with Lab() as lab:
        assert lab.pki is not None
        issued = lab.pki.issue(CertificateSpec(names=("mx.parts.test",)))
        config = ServerConfig(hostname="mx.parts.test", certificate=issued)
        part("SMTP server on the shared loop", lambda: MailServer(config, loop=lab.loop).__enter__(),
             lambda server: server.__exit__(None, None, None))  # type: ignore[attr-defined]
        counter = iter(range(10 ** 6))
        part("leaf certificate (issue, write)", lambda: lab.pki.issue(  # type: ignore[union-attr]
            CertificateSpec(names=(f"mx{next(counter)}.parts.test",))), lambda _: None)
        network = Network(dns=(lab.dns.address, lab.dns.port))
        part("strict client (contexts, resolver)", lambda: SMTPClient(network, lab.cafile, STRICT),
             lambda _: None)
        part("simulated host (certificate, server, DNS records)",
             lambda: lab.host(HEALTHY, "broken").__enter__(),
             lambda host: host.__exit__(None, None, None))  # type: ignore[attr-defined]
    return rows


# 5. Growth

def measure_growth(scenarios: list[Scenario], multiples: tuple[int, ...]) -> list[dict[str, object]]:
    """Time the catalog at several sizes, in one lab with threads and with run_catalog's processes."""
    rows = []
    with Lab() as lab:
        run_scenarios(lab, scenarios)  # warm-up outside the measurement
        for multiple in multiples:
            copies = renamed_copies(scenarios, multiple)
            started = time.perf_counter()
            results = run_scenarios(lab, copies)
            rows.append(growth_row("threads, one lab (run_scenarios)", multiple, results, started))
    for multiple in multiples:
        copies = renamed_copies(scenarios, multiple)
        started = time.perf_counter()
        results = run_catalog(copies)
        rows.append(growth_row("processes, a lab each (run_catalog)", multiple, results, started))
    return rows


def renamed_copies(scenarios: list[Scenario], multiple: int) -> list[Scenario]:
    # A new slug gives each copy its own domain, MX name and DNS records.
    return [dataclasses.replace(s, slug=f"{s.slug}-x{multiple}-{i}") for i in range(multiple) for s in scenarios]


def growth_row(mode: str, multiple: int, results: list, started: float) -> dict[str, object]:  # type: ignore[type-arg]
    elapsed = time.perf_counter() - started
    failed = sum(1 for r in results if not r.ok and not r.skipped)
    return {"mode": mode, "multiple": multiple, "variants": len(results), "wall_ms": elapsed * 1000,
            "per_variant_ms": elapsed * 1000 / max(1, len(results)), "failed": failed}


# 6. Diagnosis of one broken server

CLIENT_SCRIPT = """
import sys
from harness.client import STRICT, Network, SMTPClient
dns_address, dns_port, address, port, cafile, recipient = sys.argv[1:7]
network = Network(dns=(dns_address, int(dns_port)), ports={address: int(port)})
outcome = SMTPClient(network, cafile, STRICT).deliver(recipient)
print(outcome.label, outcome.alert or "", outcome.verify_code or "")
"""


def measure_diagnosis(lab: Lab, repeat: int, full_testssl: bool, sslyze: str | None,
                      testssl: str | None) -> tuple[dict[str, object], dict[str, float]]:
    """Time each tool on the broken server; return the rows by tool, and the steps of a cold probe."""
    result: dict[str, object] = {}
    parts: dict[str, float] = {}
    with lab.host(BROKEN, "broken") as host:
        where = host.address
        outcome = host.deliver()
        samples = timed(host.deliver, repeat)
        result["harness strict client, in-process"] = tool_row(
            statistics.median(samples), findings(f"{outcome.label} {outcome.alert}"),
            "SMTPClient(network, cafile, STRICT).deliver(recipient)")

        probe = probe_command(where.address, where.port, where.mx, lab.cafile, host)
        if probe is not None:
            run_tool(probe, {})  # warm-up: writes the bytecode cache of an editable install
            runs = [run_tool(probe, {}) for _ in range(repeat)]
            result["smtp-harness probe"] = tool_row(
                statistics.median(r[0] for r in runs), findings(runs[0][1]), "smtp-harness " + " ".join(probe[1:]))
            parts = measure_probe_parts(probe[1:], repeat)
            timed_probe = probe_in_process(host)
            if timed_probe is not None:
                result["harness.probe.probe, in-process"] = tool_row(
                    timed_probe[0], timed_probe[1], "probe(ProbeConfig(host, port, cafile, resolver), catalog)")

        command = [sys.executable, "-c", CLIENT_SCRIPT, host.lab.dns.address, str(host.lab.dns.port),
                   where.address, str(where.port), lab.cafile, host.recipient]
        runs = [run_tool(command, {}) for _ in range(repeat)]
        result["harness strict client, fresh process"] = tool_row(
            statistics.median(r[0] for r in runs), findings(runs[0][1]),
            "python -c <import harness.client, one strict delivery>")

        if sslyze:
            command = [sslyze, "--starttls", "smtp", "--sni", where.mx, "--sslv2", "--sslv3", "--tlsv1",
                       "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--certinfo", "--mozilla_config", "disable",
                       f"{where.mx}:{where.port}{{{where.address}}}"]
            runs = [run_tool(command, {}) for _ in range(max(1, repeat // 5))]
            result["sslyze (protocols + certinfo)"] = tool_row(
                statistics.median(r[0] for r in runs), findings(runs[0][1]), "sslyze " + " ".join(command[1:]))

        if testssl:
            base = [testssl, "--starttls", "smtp", "--nodns", "none", "--ip", where.address, "--warnings", "off",
                    "--color", "0", "--quiet", "--sneaky", f"{where.mx}:{where.port}"]
            env = {"NXCONNECT": "127.0.0.1:0"}
            seconds, text = run_tool(base[:1] + ["-p", "-S"] + base[1:], env)
            result["testssl.sh -p -S (protocols, server defaults)"] = tool_row(
                seconds, findings(text), "NXCONNECT=127.0.0.1:0 testssl -p -S " + " ".join(base[1:]))
            if full_testssl:
                seconds, text = run_tool(base, env)
                result["testssl.sh full run"] = tool_row(
                    seconds, findings(text), "NXCONNECT=127.0.0.1:0 testssl " + " ".join(base[1:]))
    return result, parts


def probe_command(address: str, port: int, mx: str, cafile: str, host) -> list[str] | None:  # type: ignore[no-untyped-def]
    """Return the ``smtp-harness probe`` command line when this venv has that command, else None.

    It is the console script an admin runs, not ``python -m harness``, which
    would add runpy's imports. The probe gets the lab's DNS server as its
    resolver, so its reverse-DNS and MX checks stay on loopback like
    everything else here.
    """
    script = Path(sys.executable).with_name("smtp-harness")
    if not script.exists():
        return None
    check = subprocess.run([str(script), "probe", "--help"], capture_output=True, text=True)
    if check.returncode != 0:
        return None
    dns_address, dns_port = host.dns_server
    return [str(script), "probe", f"{mx}:{port}", "--cafile", cafile, "--resolver", f"{dns_address}:{dns_port}"]


# The steps of ``smtp-harness probe`` (``console.main`` and ``cli.main``),
# timed one by one inside a fresh interpreter.
PROBE_PARTS_SCRIPT = """
import gc, os, sys, time
started = time.perf_counter()
gc.disable()
from harness import cli
from harness.lessonindex import load_lesson_index
from harness.probe import probe, render_text
from harness.probecli import config_from_args
gc.freeze()
gc.enable()
imported = time.perf_counter()
args = cli.build_parser().parse_args(sys.argv[1:])
parsed = time.perf_counter()
lessons = load_lesson_index()
indexed = time.perf_counter()
render_text(probe(config_from_args(args), lessons))
probed = time.perf_counter()
print(imported - started, parsed - imported, indexed - parsed, probed - indexed)
sys.stdout.flush()
os._exit(0)  # as the installed command ends a probe
"""

PROBE_PARTS = ("imports", "building the command line's parsers", "the lesson index (the catalog's file names)",
               "the probe: DNS, the SMTP sessions, the checks, the report")


def measure_probe_parts(arguments: list[str], repeat: int) -> dict[str, float]:
    """Time each step of a cold probe in a fresh interpreter; return the median ms of each, and of the whole run.

    What the steps leave of the whole run is the interpreter's start and
    exit, and the printing.
    """
    samples: list[list[float]] = []
    walls = []
    for _ in range(repeat + 1):  # the first run is a warm-up
        wall, text = run_tool([sys.executable, "-c", PROBE_PARTS_SCRIPT, *arguments], {})
        samples.append([float(value) for value in text.split()[:len(PROBE_PARTS)]])
        walls.append(wall)
    parts = {name: statistics.median(sample[i] for sample in samples[1:]) * 1000
             for i, name in enumerate(PROBE_PARTS)}
    parts["whole run"] = statistics.median(walls[1:]) * 1000
    return parts


def probe_in_process(host) -> tuple[float, list[str]] | None:  # type: ignore[no-untyped-def]
    """Time ``harness.probe.probe`` on the host in this process; None when this checkout has no probe."""
    try:
        from harness.probe import ProbeConfig, probe
    except ImportError:
        return None
    catalog = load_catalog()
    config = ProbeConfig(host=host.mx, port=host.address.port, cafile=host.cafile, resolver=host.dns_server)
    probe(config, catalog)  # warm-up
    started = time.perf_counter()
    report = probe(config, catalog)
    elapsed = time.perf_counter() - started
    return elapsed, findings(" ".join(str(finding.label) for finding in report.findings))


def run_tool(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TOOL_LIMIT,
                              env={**os.environ, **env})
    return time.perf_counter() - started, finished.stdout + finished.stderr


PROBLEMS = {
    # The harness: the protocol_version alert. testssl.sh: "TLS 1      offered".
    # sslyze: its TLS 1.0 section lists accepted suites.
    "TLS 1.0 only": re.compile(r"protocol.version|TLS 1\s+offered|"
                               r"TLS 1\.0 Cipher Suites:(?:(?!Cipher Suites:)[\s\S])*accepted the following",
                               re.IGNORECASE),
    # The harness: verify code 18. testssl.sh: "NOT ok (self signed)". sslyze: "NOT Trusted".
    "self-signed": re.compile(r"self.signed|NOT Trusted|verify code 18", re.IGNORECASE),
}


def findings(text: str) -> list[str]:
    """Name which of the broken server's two problems a tool's output mentions."""
    return [name for name, pattern in PROBLEMS.items() if pattern.search(text)]


def tool_row(seconds: float, named: list[str], command: str) -> dict[str, object]:
    return {"seconds": seconds, "named": named, "command": command}


def find_tool(explicit: str | None, candidates: list[str]) -> str | None:
    if explicit:
        return explicit if explicit != "none" else None
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if path:
            return path
    return None


# Report

def machine() -> dict[str, object]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "openssl": ssl.OPENSSL_VERSION, "platform": platform.platform(), "load_before": load_average()}


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def report(data: dict[str, object]) -> str:
    lines: list[str] = []
    add = lines.append
    info = data["machine"]
    add(f"Machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}, {info['openssl']}, "  # type: ignore[index]
        f"{info['platform']}")  # type: ignore[index]
    add(f"Load average before: {info['load_before']}, after: {data['load_after']} "  # type: ignore[index]
        f"(a 2-core machine is quiet below 1)")
    add(f"Command: {data['command']}")
    add(f"Catalog: {data['scenarios']} scenarios, {data['variants']} variants; default workers {default_workers()}")
    floor = data["floor"]
    add(f"\n## Floor\n\nOne verified STARTTLS session (connect, EHLO, STARTTLS, EHLO, QUIT): median "
        f"{floor['median_ms']:.2f} ms, min {floor['min_ms']:.2f} ms over {floor['sessions']} sessions.")  # type: ignore[index]

    cli = data["cli"]
    add("\n## smtp-harness run over the whole catalog (subprocess)\n")
    add("| mode | options | variants | wall ms | per variant ms | per variant / floor | peak RSS MB | exit |")
    add("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for mode, _ in CLI_MODES:
        row = cli[mode]  # type: ignore[index]
        add(f"| {mode} | `{row['options']}` | {row['variants']} | {row['wall_ms']:.0f} | {row['per_variant_ms']:.1f} "
            f"| {row['per_variant_ratio']:.2f} | {row['peak_rss_mb']:.1f} | {row['returncodes']} |")
    add(f"\nEvery mode observed the same result for every variant: {cli['same_results']}")  # type: ignore[index]

    add("\n## Per variant, in-process (run_one: start host, deliver, classify, stop)\n")
    add("| scenario | variant | observed | status | run_one ms | delivery ms | run_one / floor |")
    add("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for row in data["variant_rows"]:  # type: ignore[union-attr]
        delivery = f"{row['delivery_ms']:.2f}" if row["delivery_ms"] is not None else "-"
        add(f"| {row['scenario']} | {row['variant']} | {row['observed']} | {row['status']} | {row['total_ms']:.2f} "
            f"| {delivery} | {row['ratio']:.2f} |")
    ratios = [row["ratio"] for row in data["variant_rows"] if row["status"] != "skipped"]  # type: ignore[union-attr]
    if ratios:
        add(f"\nrun_one / floor: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")

    add("\n## Start-up and shutdown of each part (median)\n")
    add("| part | start ms | stop ms |")
    add("| --- | ---: | ---: |")
    for row in data["parts"]:  # type: ignore[union-attr]
        add(f"| {row['part']} | {row['start_ms']:.2f} | {row['stop_ms']:.2f} |")

    add("\n## Growth (renamed copies of the catalog, default workers)\n")
    add("| mode | copies | variants | wall ms | per variant ms | failed |")
    add("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in data["growth"]:  # type: ignore[union-attr]
        add(f"| {row['mode']} | {row['multiple']}x | {row['variants']} | {row['wall_ms']:.0f} "
            f"| {row['per_variant_ms']:.2f} | {row['failed']} |")

    add("\n## Diagnosis of one broken server (TLS 1.0 only, self-signed)\n")
    add("| tool | seconds | problems named | ratio to the harness, fresh process | ratio to the harness, in-process |")
    add("| --- | ---: | --- | ---: | ---: |")
    diagnosis = data["diagnosis"]
    parts: dict[str, float] = data.get("probe_parts") or {}  # type: ignore[assignment]
    # The like-for-like reference is a fresh process, as sslyze and testssl.sh are.
    reference_name = "smtp-harness probe" if "smtp-harness probe" in diagnosis \
        else "harness strict client, fresh process"  # type: ignore[operator]
    reference = diagnosis[reference_name]["seconds"]  # type: ignore[index]
    in_process = diagnosis["harness strict client, in-process"]["seconds"]  # type: ignore[index]
    for name, row in diagnosis.items():  # type: ignore[union-attr]
        add(f"| {name} | {row['seconds']:.3f} | {', '.join(row['named']) or '-'} | "
            f"{row['seconds'] / reference:.1f} | {row['seconds'] / in_process:.0f} |")
    add(f"\nThe fresh-process reference is: {reference_name}.")
    add("\nCommands:\n")
    for name, row in diagnosis.items():  # type: ignore[union-attr]
        add(f"- {name}: `{row['command']}`")
    if parts:
        add("\n## Where a cold probe's time goes (median ms of each step, in a fresh interpreter)\n")
        add("| step | ms |")
        add("| --- | ---: |")
        for name in PROBE_PARTS:
            add(f"| {name} | {parts[name]:.1f} |")
        rest = parts["whole run"] - sum(parts[name] for name in PROBE_PARTS)
        add(f"| the interpreter's start and exit, and printing | {rest:.1f} |")
        add(f"| whole run (`python -c <the steps>`) | {parts['whole run']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and no full testssl.sh run")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    parser.add_argument("--sslyze", help="path of the sslyze command ('none' to skip; default: search)")
    parser.add_argument("--testssl", help="path of testssl.sh ('none' to skip; default: search)")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 10
    # Every Python child (the harness from this checkout, sslyze) runs from
    # its bytecode cache, as installed programs do. A PYTHONDONTWRITEBYTECODE
    # inherited from a developer's shell would make each child compile the
    # checkout's modules again on every run: `python -c "import harness.cli"`
    # took 80 ms that way here, against 53 ms from the cache.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # Failed handshakes are the point of most variants; their warnings would bury the report.
    logging.basicConfig(level=logging.ERROR)

    sslyze = find_tool(args.sslyze, ["sslyze", str(ROOT / ".bench-venv" / "bin" / "sslyze")])
    testssl = find_tool(args.testssl, ["testssl", "testssl.sh"])
    catalog = load_catalog()
    scenarios = catalog.scenarios
    data: dict[str, object] = {
        "machine": machine(), "scenarios": len(scenarios), "variants": 2 * len(scenarios),
        "command": " ".join([Path(sys.executable).name, "benchmarks/run.py", *(argv or sys.argv[1:])]),
    }
    with Lab() as lab:
        print("measuring the floor ...", file=sys.stderr)
        data["floor"] = measure_floor(lab, 20 * repeat)
        floor_ms = data["floor"]["median_ms"]  # type: ignore[index]
        print("measuring each variant ...", file=sys.stderr)
        data["variant_rows"] = measure_variants(lab, scenarios, max(3, repeat // 2), floor_ms)
        print("diagnosing the broken server ...", file=sys.stderr)
        # The broken server runs in this process, whose heap now contains the
        # catalog and every result so far. Freezing those objects keeps the
        # server's garbage collections from scanning them in the middle of
        # a tool's handshakes: a pause that belongs to neither tool.
        gc.freeze()
        data["diagnosis"], data["probe_parts"] = measure_diagnosis(lab, repeat, not args.quick, sslyze, testssl)
    print("running smtp-harness run ...", file=sys.stderr)
    data["cli"] = measure_cli(3 if args.quick else 5, floor_ms)
    print("measuring parts ...", file=sys.stderr)
    data["parts"] = measure_parts(repeat)
    print("measuring growth ...", file=sys.stderr)
    data["growth"] = measure_growth(scenarios, (1, 4, 16))
    data["load_after"] = load_average()
    print(report(data))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
