"""Repository-level pytest configuration.

Two things live here rather than in the installed plugin, because they are
about this repository's own test run:

* every file in scenarios/ is collected as a test file with two items, its
  broken and its fixed variant, each run against its expectation;
* a guard fails any test that connects, sends or binds outside loopback, so
  nothing in the suite can reach another host.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

from harness.catalog import load_scenario
from harness.errors import ScenarioError
from harness.lab import Lab
from harness.runner import VariantResult, run_one
from harness.scenario import Scenario, Variant

SCENARIOS = Path(__file__).parent / "scenarios"
_lab_key = pytest.StashKey[Lab]()


# Loopback guard

_NETWORK_EVENTS = {"socket.connect", "socket.sendto", "socket.bind"}
_guard_enabled = False


def _outside_loopback(address: object) -> str | None:
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return None  # AF_UNIX paths and socketpairs
    host = address[0]
    if host in ("", "localhost"):
        return None if host == "localhost" else host  # "" binds every interface
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host  # a name would need a real resolver
    return None if ip.is_loopback else host


def _loopback_guard(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if _guard_enabled and event in _NETWORK_EVENTS:
        host = _outside_loopback(args[1])
        if host is not None:
            raise ConnectionRefusedError(f"test tried {event} to {host!r} outside loopback; "
                                         "the suite must stay on 127.0.0.0/8 and ::1")


sys.addaudithook(_loopback_guard)


def pytest_configure(config: pytest.Config) -> None:
    global _guard_enabled
    _guard_enabled = True


def pytest_unconfigure(config: pytest.Config) -> None:
    global _guard_enabled
    lab = config.stash.get(_lab_key, None)
    if lab is not None:
        lab.__exit__(None, None, None)
    _guard_enabled = False


# Scenario files as tests

def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".toml" and SCENARIOS in file_path.parents:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        try:
            scenario = load_scenario(self.path, group=self.path.parent.name)
        except ScenarioError as error:
            # One failing test with the loader's message, instead of a
            # collection error that would stop every other test.
            yield InvalidScenarioItem.from_parent(self, name="invalid", error=error)
            return
        for variant in scenario.variants:
            yield ScenarioItem.from_parent(self, name=variant.name, scenario=scenario, variant=variant)


class InvalidScenarioItem(pytest.Item):
    def __init__(self, *, error: ScenarioError, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        return f"invalid scenario file: {self.error}"

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, f"scenario file {self.path.name}"


class ScenarioMismatch(Exception):
    def __init__(self, result: VariantResult) -> None:
        self.result = result


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, variant: Variant, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.scenario = scenario
        self.variant = variant

    def runtest(self) -> None:
        lab = self.config.stash.get(_lab_key, None)
        if lab is None:
            lab = Lab().__enter__()
            self.config.stash[_lab_key] = lab
        result = run_one(lab, self.scenario, self.variant)
        if result.skipped:
            pytest.skip(result.skipped)
        if not result.ok:
            raise ScenarioMismatch(result)

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if not isinstance(excinfo.value, ScenarioMismatch):
            return super().repr_failure(excinfo, style=style)
        result = excinfo.value.result
        lines = [f"{self.scenario.slug} [{self.variant.name}]: expected {result.expectation.label}"]
        lines += [f"  {problem}" for problem in result.problems]
        if result.error:
            lines.append(f"  harness error: {result.error}")
        if result.outcome is not None:
            lines.append(f"  error: {result.outcome.error}")
            lines += [f"  {line}" for line in result.outcome.transcript]
        return "\n".join(lines)

    def reportinfo(self):  # type: ignore[no-untyped-def]
        return self.path, None, f"scenario {self.scenario.slug} [{self.variant.name}]"
