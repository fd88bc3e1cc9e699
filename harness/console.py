"""The installed ``smtp-harness`` command: ``cli.main`` with the garbage collector kept out of its start-up.

Importing the command line creates tens of thousands of objects (modules,
classes, functions) that live until the process exits. The collector would
scan them in every full collection, the final one at exit included. So the
command imports with the collector off, then moves everything imported so
far into the permanent generation (``gc.freeze``), where no collection
looks. A cold ``smtp-harness probe`` is about 6 ms faster for it
(docs/benchmarks.md). ``cli.main`` itself leaves the collector alone,
because tests and other programs call it in a process that goes on.

A command that starts no server (``cli.SERVERLESS_COMMANDS``: probe)
also ends the process itself once its output is flushed, without the
interpreter's teardown of every module; ``cli.main`` does that only when
this entry point requests it.

The modules a probe imports follow two more rules for the same reason.
What only another command or a rare path needs (logging, json, pathlib,
tomllib, cryptography, tlslite-ng, the servers) is imported where it is
used. And typing is not imported at run time: those modules set
``TYPE_CHECKING = False`` themselves, a name that mypy and pyright treat
as True like ``typing.TYPE_CHECKING``, and import typing's names for
annotations under it.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    """Run the command line and exit with its status."""
    gc.disable()
    try:
        from .cli import main as run_command
    finally:
        gc.freeze()
        gc.enable()
    sys.exit(run_command(exit_after=True))
