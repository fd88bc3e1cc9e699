"""A receiving MTA that still speaks SSLv3, RC4 and 3DES: SMTP over tlslite-ng.

OpenSSL 3 has SSLv3 compiled out and no longer ships RC4 or 3DES suites in
its default provider, so Python's ssl module cannot play a server that
offers only those. tlslite-ng is a pure-Python TLS implementation that still
negotiates them. ``LegacyMailServer`` speaks the real SMTP dialogue (RFC 5321)
up to STARTTLS (RFC 3207), then runs tlslite-ng's server handshake on the
same socket and continues the dialogue inside TLS. A client therefore sees
the records and alerts an old MTA would send.

It has the interface of ``smtpserver.MailServer`` (a context manager with
``address``, ``port`` and ``events``) and serves each connection in its own
thread with blocking sockets, the way many older MTAs did.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from dataclasses import dataclass

from . import timeouts
from .errors import ConfigurationError, ServerError
from .eventloop import EventLoopThread
from .loopback import allocate_address, require_loopback
from .pki import IssuedCertificate
from .smtpserver import ServerConfig, ServerEvent, StartTLS
from .tls import Engine, TLSSettings, Version, tlslite_cipher_names
from .tlslite_import import tlslite_api

log = logging.getLogger(__name__)

# tlslite-ng names protocol versions by their wire numbers (RFC 8446 appendix D).
_WIRE_VERSIONS = {
    Version.SSL3: (3, 0),
    Version.TLS1_0: (3, 1),
    Version.TLS1_1: (3, 2),
    Version.TLS1_2: (3, 3),
    Version.TLS1_3: (3, 4),
}

# RFC 5321 section 4.5.3.1.4 allows 512 octets a command line. Text lines in DATA
# may reach 1000, so the server accepts up to 4096 before it gives up.
_MAX_LINE = 4096


@dataclass(frozen=True)
class _Credentials:
    """The certificate chain and key in tlslite-ng's own types."""

    chain: object  # tlslite.X509CertChain
    key: object  # tlslite RSAKey or ECDSAKey


def check_config(config: ServerConfig) -> None:
    """Raise ConfigurationError for settings this server does not reproduce."""
    if config.certificate is None:
        raise ConfigurationError("the tlslite engine needs a certificate")
    if config.starttls is not StartTLS.OFFERED:
        raise ConfigurationError(f"the tlslite engine supports starttls = \"offered\" only, "
                                 f"not {config.starttls.value!r}")
    if config.sni_certificates:
        raise ConfigurationError("the tlslite engine presents one certificate. Remove sni_certificates")


def handshake_settings(tls: TLSSettings):  # type: ignore[no-untyped-def]
    """Translate a scenario's TLS settings into tlslite-ng's ``HandshakeSettings``."""
    settings = tlslite_api().HandshakeSettings()
    low, high = _WIRE_VERSIONS[tls.min_version], _WIRE_VERSIONS[tls.max_version]
    settings.minVersion, settings.maxVersion = low, high
    # tlslite also keeps the list it checks a client's supported_versions
    # extension against (RFC 8446 section 4.2.1), and it must match the range.
    settings.versions = [version for version in sorted(_WIRE_VERSIONS.values(), reverse=True)
                         if low <= version <= high]
    names = tlslite_cipher_names(tls.ciphers)
    if names:
        settings.cipherNames = names
    return settings


def _load_credentials(issued: IssuedCertificate) -> _Credentials:
    api = tlslite_api()
    chain = api.X509CertChain()
    chain.parsePemList(issued.certfile.read_text())
    key = api.parsePEMKey(issued.keyfile.read_text(), private=True)
    return _Credentials(chain, key)


class LegacyMailServer:
    """One simulated receiving MTA on a loopback address, with TLS by tlslite-ng; a context manager.

    ``loop`` is accepted for the same signature as ``MailServer`` and unused:
    this server runs its own threads.
    """

    def __init__(self, config: ServerConfig, address: str | None = None,
                 loop: EventLoopThread | None = None) -> None:
        if config.tls.engine is not Engine.TLSLITE:
            raise ConfigurationError("LegacyMailServer needs tls.engine = \"tlslite\"")
        check_config(config)
        self.config = config
        self.address = address or allocate_address()
        require_loopback(self.address, "SMTP server address")
        self.port = 0
        self.events: list[ServerEvent] = []
        self.errors: list[BaseException] = []
        self._listener: socket.socket | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._acceptor: threading.Thread | None = None
        self._sessions: dict[threading.Thread, socket.socket] = {}
        self._lock = threading.Lock()
        self._events_changed = threading.Condition(self._lock)
        self._credentials: _Credentials | None = None

    def record(self, event: ServerEvent) -> None:
        with self._events_changed:
            self.events.append(event)
            self._events_changed.notify_all()

    def wait_for_event(self, kind: str, timeout: float = timeouts.SERVER_EVENT_TIMEOUT) -> list[ServerEvent]:
        """Wait until the server has recorded an event of ``kind`` and return all events of that kind.

        Same contract as ``MailServer.wait_for_event``: raises ServerError on timeout.
        """
        def matching() -> list[ServerEvent]:
            return [event for event in self.events if event.kind == kind]

        with self._events_changed:
            if not self._events_changed.wait_for(matching, timeout):
                raise ServerError(f"SMTP server {self.address}:{self.port} recorded no {kind!r} event "
                                  f"within {timeout:g} s; recorded: {[event.kind for event in self.events]}")
            return matching()

    # Lifecycle

    def __enter__(self) -> "LegacyMailServer":
        assert self.config.certificate is not None
        self._credentials = _load_credentials(self.config.certificate)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            listener.bind((self.address, 0))
            listener.listen(64)
        except OSError as error:
            listener.close()
            raise ServerError(f"SMTP server could not listen on {self.address}: {error}") from error
        self._listener = listener
        self.port = listener.getsockname()[1]
        # The socket listens before the thread starts, so the server is ready
        # as soon as __enter__ returns: connections queue in the backlog.
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"smtp-legacy-{self.address}",
                                          daemon=True)
        self._acceptor.start()
        log.info("SMTP server %s (tlslite-ng) listening on %s:%d", self.config.hostname, self.address, self.port)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._wake_write.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(timeouts.SERVER_STOP_TIMEOUT)
        with self._lock:
            sessions = list(self._sessions.items())
        for _, sock in sessions:
            _shutdown(sock)
        stuck = [thread.name for thread, _ in sessions if not _joined(thread)]
        for sock in (self._listener, self._wake_read, self._wake_write):
            if sock is not None:
                sock.close()
        log.info("SMTP server %s on %s:%d stopped", self.config.hostname, self.address, self.port)
        if self._acceptor is not None and self._acceptor.is_alive():
            stuck.append(self._acceptor.name)
        if stuck:
            raise ServerError(f"SMTP server {self.address}:{self.port}: threads {', '.join(stuck)} did not "
                              f"stop within {timeouts.SERVER_STOP_TIMEOUT} s")
        if self.errors:
            raise ServerError(f"SMTP server {self.address}:{self.port} failed: {self.errors[0]!r}") \
                from self.errors[0]

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_read in ready:
                    return
                try:
                    sock, peer = self._listener.accept()
                except OSError as error:
                    log.error("SMTP server %s:%d failed to accept: %r", self.address, self.port, error)
                    self.errors.append(error)
                    return
                self._start_session(sock, peer[0])

    def _start_session(self, sock: socket.socket, peer: str) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeouts.SERVER_IDLE_TIMEOUT)
        thread = threading.Thread(target=self._serve, args=(sock, peer), name=f"smtp-legacy-{peer}", daemon=True)
        with self._lock:
            self._sessions[thread] = sock
        thread.start()

    def _serve(self, sock: socket.socket, peer: str) -> None:
        assert self._credentials is not None
        try:
            _Session(self, sock, peer, self._credentials).run()
        except (OSError, _Closed):
            pass  # the client went away or the server is stopping
        except tlslite_api().TLSError as error:
            # Inside TLS: a client that closes without close_notify, or a bad
            # record. A real MTA logs it and drops the session, and so does this one.
            log.warning("%s TLS session ended: %r", peer, error)
        except Exception as error:  # a bug here must fail the run, not vanish with the thread
            log.error("%s SMTP session failed: %r", peer, error)
            self.errors.append(error)
        finally:
            sock.close()
            with self._lock:
                self._sessions.pop(threading.current_thread(), None)


class _Closed(Exception):
    """The peer closed the connection."""


class _Session:
    """One SMTP session, from the banner to QUIT, with STARTTLS by tlslite-ng."""

    def __init__(self, server: LegacyMailServer, sock: socket.socket, peer: str, credentials: _Credentials) -> None:
        self.server = server
        self.config = server.config
        self.peer = peer
        self.credentials = credentials
        self.stream: object = sock  # the socket, then the tlslite TLSConnection
        self.buffer = b""
        self.greeted = False
        self.encrypted = False
        self.mail_from: str | None = None
        self.recipients: list[str] = []

    def run(self) -> None:
        self.reply(f"220 {self.config.hostname} {self.config.banner}")
        while True:
            line = self.read_line()
            verb, _, argument = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            if verb == "STARTTLS":
                if not self.starttls(argument):
                    return
                continue
            self.dispatch(verb, argument)

    def dispatch(self, verb: str, argument: str) -> None:
        handlers = {"EHLO": self.ehlo, "HELO": self.helo, "MAIL": self.mail, "RCPT": self.rcpt,
                    "DATA": self.data, "RSET": self.rset, "NOOP": lambda _: self.reply("250 2.0.0 OK")}
        handler = handlers.get(verb)
        if handler is None:
            self.reply("500 5.5.2 Error: command not recognized")
            return
        handler(argument)

    # Commands

    def ehlo(self, argument: str) -> None:
        if not argument:
            self.reply("501 5.5.4 Syntax: EHLO hostname")
            return
        self.greeted = True
        self._reset()
        extensions = ["PIPELINING", "8BITMIME"]
        if not self.encrypted:
            extensions.append("STARTTLS")
        lines = [self.config.hostname] + extensions
        self.reply("\r\n".join(f"250{'-' if i < len(lines) - 1 else ' '}{text}" for i, text in enumerate(lines)))

    def helo(self, argument: str) -> None:
        self.greeted = True
        self._reset()
        self.reply(f"250 {self.config.hostname}")

    def starttls(self, argument: str) -> bool:
        """Run the handshake; return False when the session is over."""
        if argument:
            self.reply("501 5.5.4 Syntax: STARTTLS")
            return True
        if self.encrypted:
            self.reply("503 5.5.1 Error: TLS already active")
            return True
        self.reply("220 2.0.0 Ready to start TLS")
        # Plaintext pipelined after STARTTLS is dropped, as Postfix does since
        # CVE-2011-0411: answering it inside TLS would let an attacker inject commands.
        self.buffer = b""
        return self.handshake()

    def mail(self, argument: str) -> None:
        if not self.greeted:
            self.reply("503 5.5.1 Error: send HELO/EHLO first")
        elif not argument.upper().startswith("FROM:"):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        else:
            self.mail_from = argument[5:].strip()
            self.reply("250 2.1.0 OK")

    def rcpt(self, argument: str) -> None:
        if self.mail_from is None:
            self.reply("503 5.5.1 Error: need MAIL command")
        elif not argument.upper().startswith("TO:"):
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        else:
            self.recipients.append(argument[3:].strip())
            self.reply("250 2.1.5 OK")

    def data(self, argument: str) -> None:
        if not self.recipients:
            self.reply("503 5.5.1 Error: need RCPT command")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        size = 0
        while (line := self.read_line()) != ".":
            size += len(line) + 2
        detail = f"from={self.mail_from} to={self.recipients} size={size}"
        self.server.record(ServerEvent(self.peer, "message", detail))
        self._reset()
        self.reply("250 2.0.0 OK: queued by smtp-tls-harness")

    def rset(self, argument: str) -> None:
        self._reset()
        self.reply("250 2.0.0 OK")

    def _reset(self) -> None:
        self.mail_from = None
        self.recipients = []

    # TLS

    def handshake(self) -> bool:
        api = tlslite_api()
        connection = api.TLSConnection(self.stream)
        try:
            connection.handshakeServer(certChain=self.credentials.chain, privateKey=self.credentials.key,
                                       settings=handshake_settings(self.config.tls))
        except (api.TLSError, OSError) as error:
            self._record_failure(error)
            return False
        self.stream = connection
        self.encrypted = True
        self.greeted = False  # RFC 3207 section 4.2: forget everything learnt before TLS
        version = {(3, 0): "SSLv3"}.get(connection.version, f"TLSv1.{connection.version[1] - 1}")
        detail = f"{version.replace('TLSv1.0', 'TLSv1')} with cipher {connection.getCipherName()}"
        log.info("%s TLS established: %s", self.peer, detail)
        self.server.record(ServerEvent(self.peer, "tls-established", detail))
        return True

    def _record_failure(self, error: Exception) -> None:
        # tlslite-ng reports the alert it sent (TLSLocalAlert) or received
        # (TLSRemoteAlert) by its RFC 8446 section 6 name, e.g. handshake_failure.
        description = getattr(error, "description", None)
        reason = tlslite_api().AlertDescription.toStr(description) if description is not None else type(error).__name__
        log.warning("%s TLS handshake failed: %s", self.peer, error)
        self.server.record(ServerEvent(self.peer, "tls-failed", str(error) or repr(error), reason))

    # Wire

    def reply(self, text: str) -> None:
        log.debug("%s S: %s", self.peer, text)
        data = (text + "\r\n").encode()
        if self.encrypted:
            self.stream.write(data)  # type: ignore[attr-defined]
        else:
            self.stream.sendall(data)  # type: ignore[attr-defined]

    def read_line(self) -> str:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > _MAX_LINE:
                self.reply("500 5.5.2 Error: line too long")
                raise _Closed()
            chunk = self._receive()
            if not chunk:
                raise _Closed()
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        log.debug("%s C: %r", self.peer, line)
        return line.decode("utf-8", "replace")

    def _receive(self) -> bytes:
        if self.encrypted:
            return self.stream.read(max=_MAX_LINE)  # type: ignore[attr-defined, no-any-return]
        return self.stream.recv(_MAX_LINE)  # type: ignore[attr-defined, no-any-return]


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its session


def _joined(thread: threading.Thread) -> bool:
    thread.join(timeouts.SERVER_STOP_TIMEOUT)
    return not thread.is_alive()
