"""The command line, driven in-process through main(argv)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from harness.cli import EXIT_OK, EXIT_USAGE, main


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_list_shows_groups_and_slugs():
    status, text = _run("list")

    assert status == EXIT_OK
    assert "\ncertificate\n" in text
    assert "  self-signed " in text


def test_run_prints_table_with_ok_rows():
    status, text = _run("run", "self-signed", "tls10-only")

    assert status == EXIT_OK
    rows = [line.split() for line in text.splitlines() if line.startswith(("self-signed", "tls10-only"))]
    assert [(row[0], row[2], row[-1]) for row in rows] == [
        ("self-signed", "broken", "ok"), ("self-signed", "fixed", "ok"),
        ("tls10-only", "broken", "ok"), ("tls10-only", "fixed", "ok"),
    ]


def test_run_json_lines_carry_required_keys():
    status, text = _run("run", "--json")

    lines = [json.loads(line) for line in text.splitlines()]
    assert status == EXIT_OK
    assert all({"scenario", "variant", "expected", "observed", "ok", "direction"} <= set(line) for line in lines)
    broken = {line["scenario"]: line for line in lines if line["variant"] == "broken"}
    assert broken["self-signed"]["observed"] == "certificate-not-trusted/self-signed"
    assert broken["self-signed"]["outcome"]["verify_code"] == 18
    assert broken["tls10-only"]["outcome"]["alert"] == "protocol_version"


def test_sequential_and_concurrent_runs_agree():
    _, sequential = _run("run", "--json", "--workers", "1")
    _, concurrent = _run("run", "--json", "--workers", "8")

    def observed(text: str) -> list[tuple[str, str, str]]:
        return [(d["scenario"], d["variant"], d["observed"]) for d in map(json.loads, text.splitlines())]

    assert observed(sequential) == observed(concurrent)


def test_unknown_slug_is_usage_error(capsys):
    status, _ = _run("run", "no-such-scenario")

    assert status == EXIT_USAGE
    assert "unknown scenario 'no-such-scenario'" in capsys.readouterr().err


def test_explain_shows_lesson_and_three_runs():
    status, text = _run("explain", "self-signed")

    assert status == EXIT_OK
    assert "How to fix it" in text
    assert text.count("\n== ") == 3
    assert "verify code 18" in text
    assert "result: delivered over TLSv1" in text


def test_serve_prints_addresses_and_stops():
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "harness", "serve", "self-signed", "--duration", "0.5"],
        capture_output=True, text=True, timeout=30,
    )

    assert done.returncode == 0, done.stderr
    assert "openssl s_client -starttls smtp -connect 127." in done.stdout
    assert "stopped" in done.stdout
