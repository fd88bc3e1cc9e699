"""The catalog's location, and a quick index of its lessons for ``probe``.

``probe`` only needs to know which scenarios exist and what each broken
variant fails with, to name the lesson that teaches a finding. Loading the
full catalog validates every file and imports the servers, the PKI and the
policy engine, which would triple a cold ``smtp-harness probe``. The index
reads the same TOML files with tomllib alone, and only when it must. A file it cannot read is left
out: ``smtp-harness list`` and ``run`` report such files with the full error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError


def catalog_root() -> Path:
    """Return the catalog folder: inside the installed package, else the repository's scenarios/."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "scenarios", package.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"no scenario catalog found next to {package}; reinstall smtp-tls-harness")


@dataclass(frozen=True)
class LessonEntry:
    """The lesson of one scenario: its direction and the class and reason of its broken variant."""

    slug: str
    direction: str
    failure_class: str
    reason: str


class LessonIndex:
    """The scenarios of a catalog folder, as ``findings.lesson_for`` consults them.

    The slugs come from the file names. The files are parsed only when a
    finding has no slug hint of its own and must be matched by class and
    reason, which saves a cold ``probe`` the parsing in most runs.
    """

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._entries: tuple[LessonEntry, ...] | None = None

    @property
    def slugs(self) -> list[str]:
        return [path.stem for path in self._paths]

    def lesson_entries(self) -> tuple[LessonEntry, ...]:
        if self._entries is None:
            entries = (_read_entry(path) for path in self._paths)
            self._entries = tuple(entry for entry in entries if entry is not None)
        return self._entries


def load_lesson_index(root: Path | None = None) -> LessonIndex:
    """Index every scenario file under ``root`` (default: the installed catalog)."""
    folder = root or catalog_root()
    return LessonIndex(sorted(folder.rglob("*.toml"), key=lambda p: (p.parent.name, p.stem)))


def _read_entry(path: Path) -> LessonEntry | None:
    import tomllib  # here, because most probes never parse a scenario file

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        expect = data["broken"]["expect"]
        return LessonEntry(path.stem, str(data.get("direction", "receiving")), str(expect["class"]),
                           str(expect.get("reason", "")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None
