"""The MTA-STS policy host: ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` on loopback.

A small HTTPS server on its own loopback address, port 0, presenting a
certificate from the simulated PKI for ``mta-sts.<domain>``. It serves one
policy file, or returns 404 or a redirect when the scenario asks for one. Each
connection's TLS handshake runs in the server thread with a deadline, so a
client that fails validation (and closes with an alert) is logged as the
server would log it and never stops the server.
"""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
from dataclasses import dataclass

from . import timeouts
from .loopback import ServingThread, allocate_address, require_loopback
from .mtasts import POLICY_PATH, Fetch
from .pki import IssuedCertificate
from .tls import TLSSettings, server_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyHostConfig:
    """The policy host's name, certificate, policy text and fetch behaviour."""

    hostname: str  # mta-sts.<domain>
    certificate: IssuedCertificate
    policy: str
    fetch: Fetch = Fetch.OK


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_HTTPSServer"
    protocol_version = "HTTP/1.0"
    timeout = timeouts.REPLY_TIMEOUT

    def setup(self) -> None:
        self.handshake_ok = _handshake(self.request, self.client_address[0])
        super().setup()

    def handle(self) -> None:
        if self.handshake_ok:
            super().handle()

    def do_GET(self) -> None:
        config = self.server.config
        if self.path != POLICY_PATH or config.fetch is Fetch.NOT_FOUND:
            self.send_error(404, "no policy here")
            return
        if config.fetch is Fetch.REDIRECT:
            self.send_response(301)
            self.send_header("Location", f"https://www.{config.hostname.removeprefix('mta-sts.')}{POLICY_PATH}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = config.policy.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")  # RFC 8461 section 3.2
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _handshake(sock: ssl.SSLSocket, peer: str) -> bool:
    sock.settimeout(timeouts.HANDSHAKE_TIMEOUT)
    try:
        sock.do_handshake()
    except (ssl.SSLError, OSError) as error:
        # The client refused our certificate (sts-webpki-invalid) or went away.
        log.info("%s policy host TLS handshake failed: %s", peer, error)
        return False
    return True


class _HTTPSServer(http.server.HTTPServer):
    config: PolicyHostConfig
    tls_context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, object]:
        sock, peer = self.socket.accept()
        # The handshake waits for the handler, which bounds it with a deadline.
        return self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), peer

    def handle_error(self, request: object, client_address: object) -> None:
        log.warning("%s policy host request failed", client_address, exc_info=True)


class PolicyHost:
    """The HTTPS server of one domain's MTA-STS policy; a context manager."""

    def __init__(self, config: PolicyHostConfig, address: str | None = None) -> None:
        self.config = config
        self.address = address or allocate_address()
        require_loopback(self.address, "MTA-STS policy host address")
        self._server: _HTTPSServer | None = None
        self._serving: ServingThread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "policy host not started"
        return self._server.server_address[1]

    def __enter__(self) -> "PolicyHost":
        issued = self.config.certificate
        context = server_context(TLSSettings(), str(issued.certfile), str(issued.keyfile))
        self._server = _HTTPSServer((self.address, 0), _Handler, bind_and_activate=True)
        self._server.config = self.config
        self._server.tls_context = context
        self._serving = ServingThread(self._server, f"mta-sts-{self.address}",
                                      f"MTA-STS policy host {self.address}:{self.port}")
        self._serving.start()
        log.info("MTA-STS policy host %s listening on %s:%d", self.config.hostname, self.address, self.port)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._serving is not None:
            self._serving.stop(timeouts.SERVER_STOP_TIMEOUT)
