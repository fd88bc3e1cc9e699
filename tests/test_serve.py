"""`smtp-harness serve` runs a host that third-party clients can use with the commands it prints."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import timeouts


class Served:
    """A `serve` subprocess, read up to its "ready" line."""

    def __init__(self, slug: str, variant: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-W", "error", "-m", "harness", "serve", slug, "--variant", variant,
             "--duration", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        else:
            raise AssertionError(f"serve ended before ready: {self.process.stderr.read()}")  # type: ignore[union-attr]

    def command(self, tool: str) -> list[str]:
        for line in self.lines:
            if line.strip().startswith(tool + " "):
                return shlex.split(line.strip())
        raise AssertionError(f"serve printed no {tool} command:\n" + "\n".join(self.lines))

    @property
    def cafile(self) -> Path:
        match = re.search(r"CA file\s+(\S+)", "\n".join(self.lines))
        assert match, self.lines
        return Path(match.group(1))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=timeouts.SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise
        return self.process.returncode


@pytest.fixture
def served(request):
    started: list[Served] = []

    def start(slug: str, variant: str = "broken") -> Served:
        started.append(Served(slug, variant))
        return started[-1]

    yield start
    for item in started:
        if item.process.poll() is None:
            item.stop()


def _s_client_verify_code(served_host: Served) -> int:
    done = subprocess.run(served_host.command("openssl"), input=b"QUIT\r\n", capture_output=True,
                          timeout=timeouts.TOOL_TIMEOUT)
    match = re.search(rb"Verify return code: (\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    return int(match.group(1))


@pytest.mark.thirdparty
def test_s_client_against_served_self_signed(openssl_binary, served):
    assert _s_client_verify_code(served("self-signed")) == 18


@pytest.mark.thirdparty
# The in-process tests in test_alerts.py cover every fixed variant; these two
# go through the serve command line as an admin would.
@pytest.mark.parametrize("slug", ["self-signed", "tls10-only"])
def test_s_client_against_served_fixed(openssl_binary, served, slug):
    assert _s_client_verify_code(served(slug, "fixed")) == 0


def test_serve_stops_on_sigterm_and_removes_keys(served):
    host = served("self-signed")
    cafile = host.cafile
    assert cafile.exists()

    assert host.stop() == 0
    assert not cafile.parent.exists()


def test_printed_probe_command_names_the_defect(served):
    host = served("self-signed")
    command = host.command("smtp-harness")
    command[0:1] = [sys.executable, "-m", "harness"]

    done = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=timeouts.TOOL_TIMEOUT)

    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert [(f["class"], f["reason"], f["lesson"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("certificate-not-trusted", "self-signed", "self-signed")]
