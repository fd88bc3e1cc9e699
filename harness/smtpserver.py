"""The simulated mail servers: aiosmtpd with deliberately broken TLS.

Each ``MailServer`` listens on its own loopback address, port 0, and behaves
like a receiving MTA configured one particular way: which TLS versions and
suites it speaks, which certificate it presents for which SNI name, and
whether and how it offers STARTTLS (RFC 3207).

Real alerts. When a server rejects a handshake, OpenSSL queues a TLS alert
(protocol_version, handshake_failure, ...) in its outgoing buffer. asyncio's
SSL layer in Python 3.11 closes the connection on the error without sending
that buffer, so the client would see a bare EOF where Postfix or Exchange
send the alert. ``_AlertFlushingSSLProtocol`` writes the pending bytes before
the connection is torn down, so clients see what they see from a real
OpenSSL-based MTA.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import enum
import logging
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException, syntax

from . import timeouts
from .errors import ServerError
from .eventloop import EventLoopThread
from .loopback import allocate_address, require_loopback
from .pki import IssuedCertificate
from .tls import TLSSettings, server_context

log = logging.getLogger(__name__)


class StartTLS(str, enum.Enum):
    """A server's STARTTLS behaviour."""

    OFFERED = "offered"  # advertised in EHLO, handshake on request
    NOT_OFFERED = "not-offered"  # not advertised, and "502" if asked anyway
    REFUSED = "refused"  # advertised, but answered "454 TLS not available"
    HANGS = "hangs"  # advertised, "220 ready", then silence
    INJECTION = "injection"  # "220 ready" with a forged plaintext reply in the same write, then TLS
    IMPLICIT_TLS = "implicit-tls"  # no STARTTLS: TLS from the first byte, as on port 465 (RFC 8314)


@dataclass(frozen=True)
class ServerConfig:
    """The set-up of one simulated receiving MTA.

    ``certificate`` is the default chain, presented when the client sends no
    SNI or a name missing from ``sni_certificates``.
    """

    hostname: str
    certificate: IssuedCertificate | None
    tls: TLSSettings = field(default_factory=TLSSettings)
    starttls: StartTLS = StartTLS.OFFERED
    sni_certificates: tuple[tuple[str, IssuedCertificate], ...] = ()
    banner: str = "ESMTP smtp-tls-harness"
    starttls_reply: str = "220 2.0.0 Ready to start TLS"
    # The maximum number of sessions at once, or None for no cap. The server
    # greets each session past it with 421 and closes it, as Exim does past
    # smtp_accept_max_per_host and Exchange past MaxInboundConnectionPerSource.
    max_sessions: int | None = None


@dataclass(frozen=True)
class ServerEvent:
    """Something the server saw, as its log would show it."""

    peer: str
    kind: str  # "tls-established", "tls-failed", "message"
    detail: str
    # OpenSSL's reason token, e.g. UNSUPPORTED_PROTOCOL. The tlslite-ng server
    # (legacyserver) gives the TLS alert name instead, e.g. handshake_failure.
    reason: str | None = None


class _AlertFlushingSSLProtocol(asyncio.sslproto.SSLProtocol):
    """asyncio's server-side TLS layer, changed to send its alert before closing."""

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            # Log first, then send: once the alert is out, the client may
            # return and its caller read the server's events at once (from
            # another thread), so the failure must already be recorded.
            session = self._app_protocol
            if isinstance(session, _HarnessSMTP) and not isinstance(handshake_exc, asyncio.CancelledError):
                session._record_tls_failure(handshake_exc)
            # NOTE: _process_outgoing is private to asyncio (3.11 to 3.13);
            # it writes what OpenSSL queued, which here is the alert.
            self._process_outgoing()
        super()._on_handshake_complete(handshake_exc)


# The text the injection server sends right behind its "220 ready": a complete
# reply that a careless client would read later, inside TLS, as if the
# server had sent it encrypted (STARTTLS response injection, Poddebniak et
# al., "Why TLS is better without STARTTLS", USENIX Security 2021).
INJECTED_REPLY = "250 2.0.0 forged reply sent in plaintext before the TLS handshake"


class _Handler:
    """aiosmtpd handler that accepts every message and records it."""

    def __init__(self, server: "MailServer") -> None:
        self.server = server

    async def handle_exception(self, error: Exception) -> str:
        # A failed handshake is already logged with its peer and reason by
        # _start_tls; aiosmtpd then closes the connection without a reply.
        if not isinstance(error, TLSSetupException):
            log.error("SMTP session failed: %r", error)
        return "421 4.3.0 closing connection"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        peer = session.peer[0] if session.peer else "?"
        detail = f"from=<{envelope.mail_from}> to={envelope.rcpt_tos} size={len(envelope.content or b'')}"
        self.server.record(ServerEvent(peer, "message", detail))
        return "250 2.0.0 OK: queued by smtp-tls-harness"


class _HarnessSMTP(SMTP):
    """aiosmtpd's SMTP with this server's STARTTLS behaviour."""

    def __init__(self, server: "MailServer", handler: Any = None, **kwargs: Any) -> None:
        self.server = server
        self._session_limit: asyncio.TimerHandle | None = None
        self.turned_away = False
        super().__init__(handler or _Handler(server), **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._session_limit is None and self.server.over_session_cap(self):
            self._turn_away(transport)
            return
        super().connection_made(transport)
        # Called again with the TLS transport after STARTTLS; the limit
        # counts from the TCP connection.
        if self._session_limit is None:
            self._session_limit = self.loop.call_later(timeouts.SERVER_SESSION_LIMIT, self._end_long_session)

    def _turn_away(self, transport: asyncio.BaseTransport) -> None:
        # Before aiosmtpd's own set-up, so no banner follows the 421.
        self.turned_away = True
        self.server.forget(self)
        peer = transport.get_extra_info("peername")
        self.server.record(ServerEvent(str(peer[0]) if peer else "?", "turned-away",
                                       f"more than {self.server.config.max_sessions} sessions at once"))
        transport.write(b"421 4.7.0 Too many concurrent SMTP connections; please try again later\r\n")  # type: ignore[attr-defined]
        transport.close()

    def _end_long_session(self) -> None:
        log.warning("%s session lasted SERVER_SESSION_LIMIT (%g s): closing it", self._peer(),
                    timeouts.SERVER_SESSION_LIMIT)
        if self.transport is not None:
            self.transport.write(b"421 4.4.2 Session time limit exceeded, closing connection\r\n")
            self.transport.close()

    async def _handle_client(self) -> None:
        # An implicit-TLS port handshakes before the banner; aiosmtpd's own
        # loop then runs inside TLS and no longer advertises STARTTLS.
        if self.server.config.starttls is StartTLS.IMPLICIT_TLS:
            try:
                await self._start_tls()
            except TLSSetupException as error:
                assert self._original_transport is not None
                self._original_transport.close()
                self.connection_lost(error)
                return
        await super()._handle_client()

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        behaviour = self.server.config.starttls
        if arg:
            await self.push("501 5.5.4 Syntax: STARTTLS")
            return
        if self._tls_protocol is not None:
            await self.push("503 5.5.1 TLS already active")
            return
        if behaviour is StartTLS.REFUSED:
            await self.push("454 4.7.0 TLS not available due to local problem")
            return
        if behaviour is StartTLS.INJECTION:
            # One write, so both replies reach the client in one segment and
            # sit in its buffer when it starts the handshake.
            await self.push(f"{self.server.config.starttls_reply}\r\n{INJECTED_REPLY}")
            await self._start_tls()
            return
        await self.push(self.server.config.starttls_reply)
        if behaviour is StartTLS.HANGS:
            await asyncio.Event().wait()  # until the client gives up and the task is cancelled
        await self._start_tls()

    async def _start_tls(self) -> None:
        assert self.transport is not None and self.tls_context is not None
        waiter = self.loop.create_future()
        tls = _AlertFlushingSSLProtocol(self.loop, self, self.tls_context, waiter, server_side=True)
        # Same hand-over as aiosmtpd's own STARTTLS: the TCP transport now
        # feeds the TLS layer, and this protocol reads from the TLS layer.
        self._tls_protocol = tls
        self._original_transport = self.transport
        self._original_transport.set_protocol(tls)
        self.transport = tls._app_transport
        tls.connection_made(self._original_transport)
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Already recorded by _AlertFlushingSSLProtocol before the alert went out.
            raise TLSSetupException(f"TLS handshake failed: {error}") from error
        self._record_tls_success(tls)

    def connection_lost(self, error: Exception | None) -> None:
        if self.turned_away:
            return  # aiosmtpd never set this session up
        if self._session_limit is not None:
            self._session_limit.cancel()
        self.server.forget(self)
        super().connection_lost(error)

    def _peer(self) -> str:
        return self.session.peer[0] if self.session and self.session.peer else "?"

    def _record_tls_failure(self, error: BaseException) -> None:
        reason = getattr(error, "reason", None)
        log.warning("%s TLS handshake failed: %s", self._peer(), error)
        self.server.record(ServerEvent(self._peer(), "tls-failed", str(error), reason))

    def _record_tls_success(self, tls: asyncio.sslproto.SSLProtocol) -> None:
        ssl_object = tls._extra.get("ssl_object")
        detail = f"{ssl_object.version()} with cipher {ssl_object.cipher()[0]}" if ssl_object else "TLS"
        log.info("%s TLS established: %s", self._peer(), detail)
        self.server.record(ServerEvent(self._peer(), "tls-established", detail))


def _session_peer(session: SMTP) -> str | None:
    return str(session.session.peer[0]) if session.session and session.session.peer else None


def build_tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """Build the server context with its SNI map, or None when STARTTLS is not offered."""
    if config.starttls is StartTLS.NOT_OFFERED or config.certificate is None:
        return None
    default = _context_for(config, config.certificate)
    by_name = {name.lower(): _context_for(config, issued) for name, issued in config.sni_certificates}
    if by_name:
        def choose_certificate(ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            # A name missing from the map keeps the default chain, as Postfix's
            # tls_server_sni_maps and Exim's tls_certificate expansions do.
            chosen = by_name.get((server_name or "").lower())
            if chosen is not None:
                ssl_object.context = chosen

        default.sni_callback = choose_certificate
    return default


def _context_for(config: ServerConfig, issued: IssuedCertificate) -> ssl.SSLContext:
    return server_context(config.tls, str(issued.certfile), str(issued.keyfile))


class MailServer:
    """One simulated receiving MTA on a loopback address; a context manager.

    ``loop`` is a shared ``EventLoopThread``; without one the server starts
    its own. ``events`` lists what the server saw (TLS failures with
    OpenSSL's real reason, established sessions, messages).
    """

    def __init__(self, config: ServerConfig, address: str | None = None,
                 loop: EventLoopThread | None = None, *, outside_loopback: bool = False) -> None:
        self.config = config
        self.address = address or allocate_address()
        # Only ``smtp-harness serve --listen`` passes outside_loopback, after
        # warning the user; everything else stays inside 127.0.0.0/8.
        if not outside_loopback:
            require_loopback(self.address, "SMTP server address")
        self.port = 0
        self.events: list[ServerEvent] = []
        self._tls_context = build_tls_context(config)
        self._loop = loop
        self._own_loop = loop is None
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[_HarnessSMTP] = set()
        self._recorded = threading.Condition()
        self._idle = threading.Condition()

    def record(self, event: ServerEvent) -> None:
        with self._recorded:
            self.events.append(event)
            self._recorded.notify_all()

    def wait_for_event(self, kind: str, timeout: float = timeouts.SERVER_EVENT_TIMEOUT) -> list[ServerEvent]:
        """Wait until the server has recorded an event of ``kind`` and return all events of that kind.

        The client can finish before the server's thread logs its side (the
        alert reaches the client first), so tests wait here instead of
        reading ``events`` at once. Raises ServerError on timeout.
        """
        def matching() -> list[ServerEvent]:
            return [event for event in self.events if event.kind == kind]

        with self._recorded:
            if not self._recorded.wait_for(matching, timeout):
                raise ServerError(f"SMTP server {self.address}:{self.port} recorded no {kind!r} event "
                                  f"within {timeout:g} s; recorded: {[event.kind for event in self.events]}")
            return matching()

    def over_session_cap(self, session: "_HarnessSMTP") -> bool:
        """Return True when ``session`` would exceed ``max_sessions``; the sessions turned away do not count."""
        cap = self.config.max_sessions
        if cap is None:
            return False
        with self._idle:
            others = [s for s in self._sessions if s is not session and not s.turned_away]
        return len(others) >= cap

    def forget(self, session: "_HarnessSMTP") -> None:
        with self._idle:
            self._sessions.discard(session)
            self._idle.notify_all()

    def wait_idle(self, peer: str | None = None, timeout: float = timeouts.SESSION_SETTLE_TIMEOUT) -> bool:
        """Wait until no session (from ``peer``, or at all) is open; return False on timeout.

        A client sees the alert or the last reply before the server has
        finished with the session, so ``events`` is complete only after this.
        """
        def idle() -> bool:
            return not any(peer is None or _session_peer(session) == peer for session in list(self._sessions))

        with self._idle:
            return self._idle.wait_for(idle, timeout)

    def __enter__(self) -> "MailServer":
        if self._loop is None:
            self._loop = EventLoopThread(f"smtp-{self.address}").__enter__()
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted
        # sockets only when their proto is TCP, and without it Nagle's
        # algorithm holds each multi-line reply for a delayed ACK (~40 ms).
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.bind((self.address, 0))
            self.port = sock.getsockname()[1]
            self._server = self._loop.call(self._start(sock))
        except OSError as error:
            sock.close()
            self._stop_own_loop()
            raise ServerError(f"SMTP server could not listen on {self.address}: {error}") from error
        except BaseException:
            sock.close()
            self._stop_own_loop()
            raise
        log.info("SMTP server %s listening on %s:%d", self.config.hostname, self.address, self.port)
        return self

    async def _start(self, sock: socket.socket) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        return await loop.create_server(self._new_session, sock=sock, backlog=64)

    def _new_session(self) -> _HarnessSMTP:
        assert self._loop is not None
        session = _HarnessSMTP(
            self,
            hostname=self.config.hostname,
            ident=self.config.banner,
            tls_context=self._tls_context,
            timeout=timeouts.SERVER_IDLE_TIMEOUT,
            loop=self._loop.loop,
        )
        self._sessions.add(session)
        return session

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._server is not None and self._loop is not None:
                self._loop.call(self._stop(), timeouts.SERVER_STOP_TIMEOUT)
        finally:
            self._stop_own_loop()
        log.info("SMTP server %s on %s:%d stopped", self.config.hostname, self.address, self.port)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for session in list(self._sessions):
            transport = session._original_transport or session.transport
            if transport is not None:
                transport.abort()
        await self._server.wait_closed()
        self._sessions.clear()

    def _stop_own_loop(self) -> None:
        if self._own_loop and self._loop is not None:
            loop, self._loop = self._loop, None
            loop.__exit__(None, None, None)
            if loop.errors:
                raise ServerError(f"SMTP server {self.address}:{self.port} failed: {loop.errors[0]!r}") \
                    from loop.errors[0]
