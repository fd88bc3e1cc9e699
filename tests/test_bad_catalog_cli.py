"""A catalog with one invalid file: the command line runs the rest and names the bad file."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

import harness.catalog
from harness.catalog import default_root
from harness.cli import EXIT_OK, EXIT_USAGE, main

BAD_LINE = 'issuer = "selff"'


@pytest.fixture
def catalog_with_bad_file(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A copy of the shipped catalog plus one file whose issuer is misspelled."""
    root = tmp_path / "scenarios"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    good = root / "certificate" / "self-signed.toml"
    bad = root / "certificate" / "typo-issuer.toml"
    bad.write_text(good.read_text().replace('issuer = "self"', BAD_LINE, 1))
    monkeypatch.setattr(harness.catalog, "default_root", lambda: root)
    return root, bad


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def test_run_runs_good_files_and_names_bad_one(catalog_with_bad_file, capsys):
    root, bad = catalog_with_bad_file
    good_slugs = sorted(path.stem for path in root.rglob("*.toml") if path != bad)

    status, text = _run("run", "--json")

    results = [json.loads(line) for line in text.splitlines()]
    assert status == EXIT_USAGE
    assert sorted({result["scenario"] for result in results}) == good_slugs
    assert all(result["ok"] for result in results)
    err = capsys.readouterr().err
    assert f"skipped invalid scenario file: {bad}: key 'broken.certificate.issuer': invalid value 'selff'" in err
    assert "use one of public, untrusted, self" in err
    assert "Traceback" not in err


def test_list_shows_good_files_and_names_bad_one(catalog_with_bad_file, capsys):
    _, bad = catalog_with_bad_file

    status, text = _run("list")

    assert status == EXIT_USAGE
    assert "  self-signed " in text
    assert "typo-issuer" not in text
    assert f"{bad}: key 'broken.certificate.issuer'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["explain", "serve"])
def test_command_on_bad_file_names_its_error(catalog_with_bad_file, capsys, command):
    _, bad = catalog_with_bad_file

    status, _ = _run(command, "typo-issuer")

    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert err.startswith(f"smtp-harness: error: {bad}: key 'broken.certificate.issuer'")
    assert "unknown scenario" not in err


def test_good_catalog_copy_runs_clean(catalog_with_bad_file):
    root, bad = catalog_with_bad_file
    bad.unlink()

    status, _ = _run("run")

    assert status == EXIT_OK
