"""One asyncio event loop in a background thread, shared by the simulated SMTP servers.

aiosmtpd servers are asyncio protocols. Starting a loop and a thread per
server would cost a thread each and make start-up slower than the delivery it
serves, so all servers of a run live on one loop; the blocking client and the
tests talk to it through ``call``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Coroutine, TypeVar

from . import timeouts
from .errors import ServerError

log = logging.getLogger(__name__)

T = TypeVar("T")


class EventLoopThread:
    """A context manager that runs an event loop in a thread until exit."""

    def __init__(self, name: str = "smtp-servers") -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> "EventLoopThread":
        self.loop.set_exception_handler(self._on_exception)
        self._thread.start()
        if not self._ready.wait(timeouts.SERVER_START_TIMEOUT):
            raise ServerError(f"event loop thread {self.name} did not start within "
                              f"{timeouts.SERVER_START_TIMEOUT} s")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def _on_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Handshake failures are the point of most scenarios and are logged by
        # the servers themselves; anything else reaching here is a bug.
        error = context.get("exception")
        log.error("event loop %s: %s: %r", self.name, context.get("message"), error)
        if error is not None:
            self.errors.append(error)

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = timeouts.SERVER_START_TIMEOUT) -> T:
        """Run ``coroutine`` on the loop and return its result, waiting at most ``timeout`` seconds."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError as error:
            future.cancel()
            raise ServerError(f"event loop {self.name}: operation timed out after {timeout} s") from error

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self.call(self._cancel_tasks(), timeouts.SERVER_STOP_TIMEOUT)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeouts.SERVER_STOP_TIMEOUT)
            if self._thread.is_alive():
                raise ServerError(f"event loop thread {self.name} did not stop within "
                                  f"{timeouts.SERVER_STOP_TIMEOUT} s")
        self.loop.close()

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
