"""The package's exception hierarchy.

Every error the harness raises on purpose derives from HarnessError, carries
the context a user needs (the scenario file, the key, the value, the address)
and chains its cause with ``from``. The command line prints these as one clear
message and never as a traceback.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

if TYPE_CHECKING:
    from pathlib import Path


class HarnessError(Exception):
    """Base class of every error the harness raises on purpose."""


class ScenarioError(HarnessError):
    """A scenario file is invalid: names the file, the key and the bad value."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        from pathlib import Path  # here, so that a cold probe does not import pathlib

        self.path = Path(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: key {key!r}" if key else f"{self.path}"
        super().__init__(f"{where}: {problem}")


class UnknownScenarioError(HarnessError):
    """A slug given on the command line or to a fixture is not in the catalog."""

    def __init__(self, slug: str, known: list[str]) -> None:
        self.slug = slug
        import difflib  # only when a slug is unknown, so that every command starts faster

        close = difflib.get_close_matches(slug.lower(), known, n=3)
        if close:
            hint = "did you mean " + " or ".join(repr(name) for name in close) + "?"
        else:
            hint = "for example: " + ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        super().__init__(f"unknown scenario {slug!r}: run 'smtp-harness list' to see the catalog ({hint})")


class ServerError(HarnessError):
    """A simulated server failed to start, failed while running, or failed to stop."""


class ConfigurationError(HarnessError):
    """A command-line option or an API argument has an unusable value."""
