"""The quick lesson index that probe reads agrees with the fully loaded catalog."""

from __future__ import annotations

from harness.catalog import load_catalog
from harness.lessonindex import load_lesson_index


def test_index_matches_full_catalog():
    catalog = load_catalog()
    index = load_lesson_index()

    assert index.slugs == catalog.slugs
    assert index.lesson_entries() == catalog.lesson_entries()


def test_index_leaves_out_unreadable_file(tmp_path):
    (tmp_path / "protocol").mkdir()
    (tmp_path / "protocol" / "broken-toml.toml").write_text("title = ")
    (tmp_path / "protocol" / "no-expect.toml").write_text('[broken]\ntls = {}\n')

    index = load_lesson_index(tmp_path)

    assert index.slugs == ["broken-toml", "no-expect"]
    assert index.lesson_entries() == ()
