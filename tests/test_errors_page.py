"""docs/errors.md shows the messages the loader really produces today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "docs" / "make_errors_page.py"


def _page_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_errors_page", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_errors_page_is_current():
    module = _page_module()

    assert module.PAGE.read_text() == module.render(), \
        "docs/errors.md is stale: run .venv/bin/python docs/make_errors_page.py"


def test_errors_page_covers_each_example():
    module = _page_module()
    text = module.PAGE.read_text()

    assert text.count("\n## ") == len(module.EXAMPLES) + 2
    assert text.count("scenarios/certificate/example.toml: ") >= len(module.EXAMPLES)
