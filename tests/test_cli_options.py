"""Command-line options and the mistakes users make with them: each gets a clear error, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from harness.cli import EXIT_OK, EXIT_USAGE, main
from harness.helpformat import help_width

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_slug_named_twice_runs_once():
    status, text = _run("run", "--json", "self-signed", "expired", "self-signed")

    rows = [(row["scenario"], row["variant"], row["ok"]) for row in map(json.loads, text.splitlines())]
    assert status == EXIT_OK
    assert rows == [("self-signed", "broken", True), ("self-signed", "fixed", True),
                    ("expired", "broken", True), ("expired", "fixed", True)]


def test_catalog_option_reads_other_folder(tmp_path):
    shutil.copytree(SCENARIOS / "protocol", tmp_path / "protocol")
    copy = tmp_path / "protocol" / "tls10-only.toml"
    copy.rename(copy.with_name("my-tls10.toml"))

    status, text = _run("--catalog", str(tmp_path), "run", "--json", "my-tls10")

    assert status == EXIT_OK
    assert [json.loads(line)["scenario"] for line in text.splitlines()] == ["my-tls10", "my-tls10"]


def test_catalog_option_missing_folder(capsys, tmp_path):
    status, _ = _run("--catalog", str(tmp_path / "nowhere"), "list")

    assert status == EXIT_USAGE
    assert "not a folder" in capsys.readouterr().err


def test_misspelt_slug_suggests_close_one(capsys):
    status, _ = _run("explain", "self-sigend")

    assert status == EXIT_USAGE
    assert "did you mean 'self-signed'" in capsys.readouterr().err


def test_tlsrpt_dash_is_usage_error(capsys):
    status, _ = _run("run", "self-signed", "--tlsrpt", "-")

    assert status == EXIT_USAGE
    assert "give a file name" in capsys.readouterr().err
    assert not Path("-").exists()


@pytest.mark.parametrize("argv, named", [
    (["probe", "mx.test", "--resolver", "notanip"], "--resolver 'notanip'"),
    (["probe", "127.0.0.1:25", "--port", "26"], "give the port once"),
    (["probe", "127.0.0.1:25", "--sni", " "], "--sni is empty"),
    (["probe", "127.0.0.1:25", "--timeout", "inf"], "invalid timeout inf"),
    (["probe", "127.0.0.1:25", "--timeout", "nan"], "invalid timeout nan"),
    (["probe", "127.0.0.1:25", "--timeout", "1e10"], "invalid timeout 10000000000.0"),
])
def test_probe_bad_option_names_it(capsys, argv, named):
    status, _ = _run(*argv)

    assert status == EXIT_USAGE
    assert named in capsys.readouterr().err


def test_probe_port_zero_rejected_by_parser(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["probe", "127.0.0.1", "--port", "0"])

    assert caught.value.code == EXIT_USAGE
    assert "invalid port '0'" in capsys.readouterr().err


def test_common_options_after_command():
    status, text = _run("run", "-v", "--catalog", str(SCENARIOS), "--json", "self-signed")

    assert status == EXIT_OK
    assert len(text.splitlines()) == 2


def test_empty_catalog_folder_is_usage_error(capsys, tmp_path):
    status, _ = _run("--catalog", str(tmp_path), "run")

    assert status == EXIT_USAGE
    assert "no scenario files" in capsys.readouterr().err


def test_processes_capped_at_variant_count():
    status, text = _run("run", "--json", "--processes", "50", "self-signed")

    assert status == EXIT_OK
    assert [json.loads(line)["ok"] for line in text.splitlines()] == [True, True]


def test_serve_banner_shows_broken_client(capsys):
    status, text = _run("serve", "implicit-tls-on-submission-port", "--duration", "0.2")

    assert status == EXIT_OK
    assert "the broken client of this scenario" in text
    assert " --tlsc" in text


@pytest.mark.parametrize(("columns", "expected"), [("60", 58), ("0", None), ("wide", None)])
def test_help_width_follows_columns(monkeypatch, columns, expected):
    monkeypatch.setenv("COLUMNS", columns)

    # Without a usable COLUMNS the width is shutil's result: the terminal, else 80.
    assert help_width() == (expected if expected is not None else shutil.get_terminal_size().columns - 2)


def test_help_wraps_at_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "60")

    with pytest.raises(SystemExit):
        main(["--help"])

    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 60
