"""Loopback addresses and the small helpers every simulated server shares.

Linux routes all of 127.0.0.0/8 to the loopback interface, so each simulated
host can have an address of its own (127.a.b.c) without any set-up. Distinct
addresses matter: a PTR record, a DNSBL entry and a server log line all name
the peer by its address.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import selectors
import socket
import threading
TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

if TYPE_CHECKING:
    import socketserver  # for annotations only: the probe imports this module and starts no server

LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")

# Addresses are handed out from a block chosen by the process id, so parallel
# pytest-xdist workers rarely share an address (ports never collide anyway,
# because every server binds port 0).
_BLOCK = 64 + os.getpid() % 160
_counter = itertools.count(1)
_lock = threading.Lock()


def allocate_address() -> str:
    """Return a fresh loopback address in 127.<block>.x.y for one simulated host."""
    with _lock:
        n = next(_counter)
    high, low = divmod(n % 64516, 254)
    return f"127.{_BLOCK}.{high}.{low + 1}"


def is_loopback(address: str) -> bool:
    """Return True when ``address`` is an IPv4 address in 127.0.0.0/8 or ::1."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback


def require_loopback(address: str, what: str) -> None:
    """Raise ConfigurationError unless ``address`` is a loopback address."""
    from .errors import ConfigurationError

    if not is_loopback(address):
        raise ConfigurationError(
            f"{what} {address!r} is not a loopback address: the harness only binds "
            "and connects inside 127.0.0.0/8 or ::1"
        )


class Wakeup:
    """A socket pair that interrupts a selector loop at once when a server stops.

    Servers wait on their sockets and on this pair in one selector, so stopping
    costs no polling interval (dnslib's and socketserver's stop() poll every
    half second).
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)

    def register(self, selector: selectors.BaseSelector) -> None:
        selector.register(self._reader, selectors.EVENT_READ, self)

    def fire(self) -> None:
        try:
            self._writer.send(b"x")
        except OSError:
            pass  # already closed: the loop is gone

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


class ServingThread:
    """Serves one socketserver server in a thread, request by request, until ``stop``.

    The thread waits on the listening socket and a ``Wakeup`` in one
    selector, so ``stop`` ends it at once. ``stop`` joins with a bound,
    closes the server and re-raises what failed in the thread as ServerError.
    ``label`` names the server in those errors.
    """

    def __init__(self, server: socketserver.BaseServer, name: str, label: str) -> None:
        self.server = server
        self.label = label
        self._wakeup = Wakeup()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.server.fileno(), selectors.EVENT_READ, None)  # type: ignore[attr-defined]
        self._wakeup.register(selector)
        try:
            while True:
                events = selector.select()
                if any(key.data is self._wakeup for key, _ in events):
                    return
                self.server.handle_request()
        except BaseException as error:  # re-raised in the caller by stop()
            self._error = error
        finally:
            selector.close()

    def stop(self, timeout: float) -> None:
        from .errors import ServerError

        self._wakeup.fire()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise ServerError(f"{self.label} did not stop within {timeout} s")
        self.server.server_close()
        self._wakeup.close()
        if self._error is not None:
            raise ServerError(f"{self.label} failed: {self._error}") from self._error
