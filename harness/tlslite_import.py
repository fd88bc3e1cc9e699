"""Importing tlslite-ng without its deprecation warnings failing the run.

tlslite-ng 0.8's package ``__init__`` imports its asyncore integration, and
Python 3.11 warns that asyncore is deprecated on import. The harness never
uses that integration, and this project treats warnings as errors, so the
import silences exactly that warning. The lock keeps catch_warnings (which
changes process-wide state) from racing between server threads.
"""

from __future__ import annotations

import threading
import types
import warnings

_lock = threading.Lock()


def tlslite_api() -> types.ModuleType:
    """Return ``tlslite.api``, imported once."""
    with _lock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                message=r"The (asyncore|asynchat) module is deprecated")
        import tlslite.api
    return tlslite.api


def tlslite_cipher_names_known() -> list[str]:
    """Return every cipher name tlslite-ng accepts in ``HandshakeSettings.cipherNames``."""
    tlslite_api()
    from tlslite.handshakesettings import ALL_CIPHER_NAMES

    return list(ALL_CIPHER_NAMES)
