"""argparse's help formatters, sized to the terminal without importing shutil.

argparse calls ``shutil.get_terminal_size`` for the width of its help text,
even when it only builds a parser. Importing shutil loads the bz2, lzma and
zlib modules too, about 2 ms of a cold ``smtp-harness probe``, a command
people run again and again. These formatters take the width the
way shutil computes it (``COLUMNS``, else the terminal on stdout, else 80
columns) and argparse's own rule of two columns less.
"""

from __future__ import annotations

import argparse
import os
import sys

FALLBACK_COLUMNS = 80  # shutil.get_terminal_size's fallback


def help_width() -> int:
    """Return the help text's width: the terminal's columns minus two, as argparse has it."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = FALLBACK_COLUMNS  # stdout is not a terminal, or is closed or missing
    return (columns or FALLBACK_COLUMNS) - 2


class HelpFormatter(argparse.HelpFormatter):
    """argparse's default formatter with the width computed here."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or help_width())


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse's formatter that keeps the description and epilog as written, with the width computed here."""


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose formatter, and its subcommands' formatters, default to ``HelpFormatter``."""

    def __init__(self, *args: object, formatter_class: type = HelpFormatter, **kwargs: object) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)  # type: ignore[arg-type]
