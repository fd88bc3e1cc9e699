"""What a cold ``smtp-harness probe`` imports: none of the heavy modules its common path avoids.

A probe is timed against sslyze in the benchmark, and a fresh interpreter
spends most of a probe importing. These tests run the probe in a fresh
interpreter against a broken lab host and list the modules it imported.
A change that pulls dnspython, cryptography or the servers back into the
common path then fails here, not only in the next benchmark. The tests
time nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

from harness import timeouts
from harness.catalog import load_catalog

CATALOG = load_catalog()

# Imported by a probe only on a rare path: the CRL and OCSP checks
# (cryptography), a host that no OpenSSL handshake reaches (tlslite), the
# other commands (the resolver of the lab's client, the servers, logging),
# --json (json), and type checkers (typing).
AVOIDED = ("dns", "cryptography", "tlslite", "aiosmtpd", "asyncio", "dnslib", "trustme", "logging", "typing",
           "json", "tomllib", "shutil", "encodings.idna", "harness.lab", "harness.client", "harness.catalog")

# The child reports the avoided modules that the probe added to those the
# interpreter had already imported at start-up (an editable install's
# path finder imports pathlib, for one).
CHILD = """
import io, sys
before = set(sys.modules)
from harness.cli import main
status = main(sys.argv[2:], out=io.StringIO())
added = set(sys.modules) - before
avoided = sys.argv[1].split(",")
imported = sorted(m for m in added if m.split(".")[0] in avoided or m in avoided)
import json
print(json.dumps({"status": status, "imported": imported}))
"""


def probe_in_fresh_interpreter(host, *options: str) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    resolver = f"{host.dns_server[0]}:{host.dns_server[1]}"
    argv = ["probe", f"{host.mx}:{host.address.port}", "--resolver", resolver, "--cafile", host.cafile,
            "--timeout", "2", *options]
    finished = subprocess.run([sys.executable, "-c", CHILD, ",".join(AVOIDED), *argv], capture_output=True,
                              text=True, timeout=timeouts.TOOL_TIMEOUT)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    return report["status"], report["imported"]


def test_cold_probe_imports_none_avoided(smtp_lab):
    with smtp_lab.host(CATALOG.get("self-signed"), "broken") as host:
        status, imported = probe_in_fresh_interpreter(host)

    assert status == 1
    assert imported == []


def test_cold_probe_json_imports_json(smtp_lab):
    with smtp_lab.host(CATALOG.get("self-signed"), "broken") as host:
        status, imported = probe_in_fresh_interpreter(host, "--json")

    assert status == 1
    assert imported == ["json", "json.decoder", "json.encoder", "json.scanner"]


def test_cold_probe_revocation_imports_cryptography(smtp_lab):
    # The fixed host's leaf names a CRL on the lab's repository, so the
    # probe checks it, and that needs cryptography.
    with smtp_lab.host(CATALOG.get("self-signed"), "fixed") as host:
        status, imported = probe_in_fresh_interpreter(host)

    assert status == 0
    assert "cryptography.x509" in imported


def test_installed_command_flushes_before_exit(smtp_lab):
    # `python -m harness` is the installed command's entry: a probe ends its
    # process with os._exit, so its whole report must be flushed first.
    with smtp_lab.host(CATALOG.get("self-signed"), "broken") as host:
        resolver = f"{host.dns_server[0]}:{host.dns_server[1]}"
        finished = subprocess.run(
            [sys.executable, "-m", "harness", "probe", f"{host.mx}:{host.address.port}", "--resolver", resolver,
             "--cafile", host.cafile, "--timeout", "2", "--json"],
            capture_output=True, text=True, timeout=timeouts.TOOL_TIMEOUT)

    assert finished.returncode == 1
    assert json.loads(finished.stdout)["verdict"] == "would-be-refused"
    assert finished.stderr == ""
