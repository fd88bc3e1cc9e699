"""Allow ``python -m harness``, the same as the installed ``smtp-harness`` command."""

from .console import main

main()
