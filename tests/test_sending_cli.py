"""The command line with sending scenarios: run, explain and serve."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from harness.cli import EXIT_OK, main


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_run_json_carries_reply_codes():
    status, text = _run("run", "--json", "sender-no-starttls", "dnsbl-listed")

    lines = {(d["scenario"], d["variant"]): d for d in map(json.loads, text.splitlines())}
    assert status == EXIT_OK
    assert {d["direction"] for d in lines.values()} == {"sending"}
    broken = lines[("sender-no-starttls", "broken")]
    assert broken["observed"] == "smtp-rejected/starttls-required"
    assert (broken["outcome"]["reply_code"], broken["outcome"]["enhanced_status"]) == (451, "5.7.3")
    assert lines[("dnsbl-listed", "broken")]["outcome"]["stage"] == "rcpt"
    assert lines[("dnsbl-listed", "fixed")]["observed"] == "delivered"


def test_run_table_shows_direction_column():
    status, text = _run("run", "ptr-missing")

    rows = [line.split() for line in text.splitlines() if line.startswith("ptr-missing")]
    assert status == EXIT_OK
    assert [(row[1], row[2], row[-1]) for row in rows] == [("sending", "broken", "ok"), ("sending", "fixed", "ok")]


def test_explain_sending_shows_two_runs():
    status, text = _run("explain", "sender-no-starttls")

    assert status == EXIT_OK
    assert text.count("\n== ") == 2
    assert "S: 451 5.7.3 " in text
    assert "receiver log: " in text
    assert "result: delivered over TLSv1" in text


def test_serve_sending_prints_source_address():
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "harness", "serve", "ptr-missing", "--duration", "0.5"],
        capture_output=True, text=True, timeout=30,
    )

    assert done.returncode == 0, done.stderr
    assert " --local-interface 127." in done.stdout
    assert "smtp_bind_address = 127." in done.stdout
    assert "stopped" in done.stdout
