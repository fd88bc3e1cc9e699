"""The PKI repository: an HTTP server on loopback that publishes CRLs (and OCSP).

Public CAs publish their CRLs at the URL named in each leaf's CRL distribution
point (RFC 5280 section 4.2.1.13). The strict client fetches the CRL from
there, exactly as a revocation-checking MTA such as Exchange does through
Windows' CryptoAPI. Routes are registered by path, so other parts of the
harness (an OCSP responder, an MTA-STS policy host) can publish on it too.
"""

from __future__ import annotations

import http.server
import logging
import socket
from typing import Callable

from . import timeouts
from .errors import ServerError
from .loopback import ServingThread, allocate_address, require_loopback

log = logging.getLogger(__name__)

# A route returns (content type, body) or None for 404. POST bodies are passed in.
Route = Callable[[bytes], "tuple[str, bytes] | None"]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_HTTPServer"
    protocol_version = "HTTP/1.0"
    timeout = timeouts.REPLY_TIMEOUT

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(min(length, 65536)))

    def _answer(self, body: bytes) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        result = route(body) if route else None
        if result is None:
            self.send_error(404, "not published here")
            return
        content_type, payload = result
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _HTTPServer(http.server.HTTPServer):
    routes: dict[str, Route]


class RepositoryServer:
    """A small HTTP server on its own loopback address; a context manager."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address or allocate_address()
        require_loopback(self.address, "repository address")
        self.routes: dict[str, Route] = {}
        self._server: _HTTPServer | None = None
        self._serving: ServingThread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def publish(self, path: str, route: Route) -> str:
        """Serve ``route`` at ``path`` and return the full URL."""
        self.routes[path] = route
        return self.base_url + path

    def __enter__(self) -> "RepositoryServer":
        self._server = _HTTPServer((self.address, 0), _Handler, bind_and_activate=True)
        self._server.routes = self.routes
        self._serving = ServingThread(self._server, f"repository-{self.address}",
                                      f"repository server {self.base_url}")
        self._serving.start()
        log.info("PKI repository listening on %s", self.base_url)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._serving is not None:
            self._serving.stop(timeouts.SERVER_STOP_TIMEOUT)



class UnansweredEndpoint:
    """A loopback address where the kernel accepts connections and nobody ever replies.

    This is a CRL distribution point or OCSP responder behind a firewall
    that drops the replies, or a repository host that hangs: the client's
    TCP connect succeeds (the kernel completes it into the listen backlog),
    its request is sent, and no byte ever comes back, so only the client's
    own timeout ends the wait. A context manager; no thread is needed.
    """

    # Enough queued connections for every variant of a parallel run.
    BACKLOG = 128

    def __init__(self, address: str | None = None) -> None:
        self.address = address or allocate_address()
        require_loopback(self.address, "unanswered endpoint address")
        self._sock: socket.socket | None = None

    @property
    def port(self) -> int:
        assert self._sock is not None, "endpoint not started"
        return self._sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def __enter__(self) -> "UnansweredEndpoint":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.address, 0))
            sock.listen(self.BACKLOG)
        except OSError as error:
            sock.close()
            raise ServerError(f"unanswered endpoint could not listen on {self.address}: {error}") from error
        self._sock = sock
        log.info("unanswered endpoint listening on %s", self.base_url)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
