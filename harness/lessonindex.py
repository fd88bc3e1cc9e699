"""The catalog's location, and a quick index of its lessons for ``probe``.

``probe`` only needs to know which scenarios exist and what each broken
variant fails with, to name the lesson that teaches a finding. Loading the
full catalog validates every file and imports the servers, the PKI and the
policy engine, which would triple a cold ``smtp-harness probe``. The index
reads the same TOML files with tomllib alone, and only when it must. A file it cannot read is left
out: ``smtp-harness list`` and ``run`` report such files with the full error.

The index works on ``os.path`` strings, not pathlib, because importing
pathlib (with urllib.parse and fnmatch) would cost a cold probe about 2 ms.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ConfigurationError

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

if TYPE_CHECKING:
    from pathlib import Path


def catalog_root() -> Path:
    """Return the catalog folder: inside the installed package, else the repository's scenarios/."""
    from pathlib import Path

    return Path(catalog_folder())


def catalog_folder() -> str:
    """Return the catalog folder as a string path; ``catalog_root`` gives it as a Path."""
    package = os.path.dirname(os.path.realpath(__file__))
    for candidate in (os.path.join(package, "scenarios"), os.path.join(os.path.dirname(package), "scenarios")):
        if os.path.isdir(candidate):
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

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths
        self._entries: tuple[LessonEntry, ...] | None = None

    @property
    def slugs(self) -> list[str]:
        return [_stem(path) for path in self._paths]

    def lesson_entries(self) -> tuple[LessonEntry, ...]:
        if self._entries is None:
            entries = (_read_entry(path) for path in self._paths)
            self._entries = tuple(entry for entry in entries if entry is not None)
        return self._entries


def load_lesson_index(root: str | os.PathLike[str] | None = None) -> LessonIndex:
    """Index every scenario file under ``root``, at any depth (default: the installed catalog)."""
    folder = os.fspath(root) if root is not None else catalog_folder()
    paths = [os.path.join(parent, name) for parent, _, names in os.walk(folder)
             for name in names if name.endswith(".toml")]
    return LessonIndex(sorted(paths, key=lambda path: (os.path.basename(os.path.dirname(path)), _stem(path))))


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _read_entry(path: str) -> LessonEntry | None:
    import tomllib  # here, because most probes never parse a scenario file

    try:
        with open(path, encoding="utf-8") as handle:
            data = tomllib.loads(handle.read())
        expect = data["broken"]["expect"]
        return LessonEntry(_stem(path), str(data.get("direction", "receiving")), str(expect["class"]),
                           str(expect.get("reason", "")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None
