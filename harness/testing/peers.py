"""Misbehaving SMTP servers for tests: each breaks the dialogue in one chosen way.

A diagnostic client is pointed at broken hosts by definition, so it must turn
every misbehaviour of a peer into a failure class within its named timeout.
A real MTA (aiosmtpd included) cannot be configured into most of these
misbehaviours, so the peers here script the server side of the dialogue
themselves. They send a garbage banner, a reply line of one megabyte, a
multiline reply that never ends, or one byte per second. They reset in the
middle of the TLS handshake, send plaintext where the ServerHello belongs or
a malformed reply code, or close at any stage of the dialogue.

They speak SMTP over real TCP on a loopback address, and real TLS through
OpenSSL where the script gets that far. Each peer is a context manager like
the harness's servers: ``__enter__`` binds port 0 and reports the real port
in ``port``, each connection runs its behaviour in a thread of its own, and
``__exit__`` stops every thread at once (a stop event ends pauses, and a
socket shutdown ends blocked reads and writes), joins them with a bounded
wait and re-raises what went wrong in a script.

A behaviour is a function of one ``PeerConnection``::

    def banner_then_close(peer: PeerConnection) -> None:
        peer.reply(220, "mx.peer.test ESMTP")
        peer.close()

    with MisbehavingPeer(banner_then_close) as peer:
        ...  # point a client at peer.address, peer.port

An ``OSError`` inside a behaviour (the client hung up, reset the connection,
or stopped reading) ends that connection quietly: that is how clients under
test behave. Any other exception is a broken script and fails the test.
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import struct
import threading
from typing import Callable

from .. import timeouts
from ..errors import ServerError
from ..loopback import Wakeup, allocate_address, require_loopback

log = logging.getLogger(__name__)

Behaviour = Callable[["PeerConnection"], None]

# Maximum length of a command line a peer reads. Longer input is a client bug.
MAX_COMMAND = 4096

# Maximum message data a peer reads after DATA before it gives up.
MAX_MESSAGE = 1 << 20

# A TLS record header: content type, legacy version, length (RFC 8446 section 5.1).
TLS_RECORD_HEADER = struct.Struct("!BHH")
TLS_HANDSHAKE_RECORD = 22


class ClientGone(ConnectionError):
    """The client closed the connection while the peer was waiting for it."""


class PeerScriptError(Exception):
    """A behaviour met input its script does not expect, such as MAIL where EHLO belongs."""


class PeerConnection:
    """One accepted connection and the verbs a behaviour script uses on it.

    ``commands`` lists each command line the client sent, in order, so tests
    can check how far the client went.
    """

    def __init__(self, sock: socket.socket, hostname: str, tls_context: ssl.SSLContext | None,
                 stopping: threading.Event) -> None:
        self.sock = sock
        self.hostname = hostname
        self.tls_context = tls_context
        self.commands: list[str] = []
        self._stopping = stopping
        self._buffer = b""
        sock.settimeout(timeouts.PEER_READ_TIMEOUT)

    # Sending

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, code: int, *lines: str) -> None:
        """Send one reply; several lines make a multiline reply (``250-a``, ``250 b``)."""
        texts = list(lines) or [""]
        wire = [f"{code}-{text}" for text in texts[:-1]] + [f"{code} {texts[-1]}".rstrip()]
        self.send("".join(line + "\r\n" for line in wire).encode())

    def greet(self) -> None:
        self.reply(220, f"{self.hostname} ESMTP misbehaving peer")

    def answer_ehlo(self, starttls: bool = True) -> None:
        self.expect("EHLO")
        extensions = ["PIPELINING", "8BITMIME"] + (["STARTTLS"] if starttls else [])
        self.reply(250, self.hostname, *extensions)

    # Receiving

    def read_command(self) -> str:
        """Read one command line from the client, without its CRLF."""
        line = self._read_until(b"\n", MAX_COMMAND)
        command = line.rstrip(b"\r\n").decode("utf-8", "replace")
        self.commands.append(command)
        return command

    def expect(self, verb: str) -> str:
        """Read one command and check that it starts with ``verb`` (``EHLO``, ``MAIL``, ...)."""
        command = self.read_command()
        if command.split(" ", 1)[0].split(":", 1)[0].upper() != verb:
            raise PeerScriptError(f"peer {self.hostname} expected {verb}, received {command[:80]!r}")
        return command

    def read_message(self) -> bytes:
        """Read message data up to and including the line with a single dot."""
        return self._read_until(b"\r\n.\r\n", MAX_MESSAGE)

    def read_client_hello(self) -> bytes:
        """Read the client's first TLS record (the ClientHello) from the plaintext socket."""
        header = self._read_exactly(TLS_RECORD_HEADER.size)
        content_type, _, length = TLS_RECORD_HEADER.unpack(header)
        if content_type != TLS_HANDSHAKE_RECORD:
            raise PeerScriptError(f"peer {self.hostname} expected a TLS handshake record, "
                                  f"received content type {content_type}")
        return header + self._read_exactly(length)

    def _read_until(self, end: bytes, limit: int) -> bytes:
        while end not in self._buffer:
            if len(self._buffer) > limit:
                raise PeerScriptError(f"peer {self.hostname}: the client sent more than {limit} "
                                      f"octets without {end!r}")
            self._receive()
        index = self._buffer.index(end) + len(end)
        data, self._buffer = self._buffer[:index], self._buffer[index:]
        return data

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._receive()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ClientGone(f"the client closed the connection to peer {self.hostname}")
        self._buffer += chunk

    # TLS and the end of the connection

    def start_tls(self) -> None:
        """Run the server side of the TLS handshake with ``tls_context``."""
        if self.tls_context is None:
            raise PeerScriptError(f"peer {self.hostname} has no TLS context; pass tls_context=")
        if self._buffer:
            raise PeerScriptError(f"peer {self.hostname}: the client sent {len(self._buffer)} octets "
                                  "of plaintext after STARTTLS")
        self.sock = self.tls_context.wrap_socket(self.sock, server_side=True)

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; return False at once when the peer is stopping."""
        return not self._stopping.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def close(self) -> None:
        """Close politely: the client reads end-of-file (a TCP FIN)."""
        self.sock.close()

    def reset(self) -> None:
        """Close abortively: the client reads a connection reset (a TCP RST).

        A zero linger time makes close() discard unsent data and send RST
        instead of FIN (socket(7), SO_LINGER).
        """
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def interrupt(self) -> None:
        """Wake a read or write blocked in another thread; used when the peer stops."""
        try:
            # The plain socket's shutdown, also for an SSLSocket: it ends the
            # blocked call without tearing down the TLS object under it.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


class MisbehavingPeer:
    """A TCP server on a loopback address that runs ``behaviour`` for each connection.

    ``hostname`` is the name the peer greets with and the name its
    certificate should carry when ``tls_context`` is given. ``connections``
    lists every accepted connection, so tests can read what the client sent.
    """

    def __init__(self, behaviour: Behaviour, *, hostname: str = "mx.peer.test",
                 tls_context: ssl.SSLContext | None = None, address: str | None = None) -> None:
        self.behaviour = behaviour
        self.hostname = hostname
        self.tls_context = tls_context
        self.address = address or allocate_address()
        require_loopback(self.address, "misbehaving peer address")
        self.port = 0
        self.connections: list[PeerConnection] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._wakeup = Wakeup()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return getattr(self.behaviour, "__name__", "peer")

    def __enter__(self) -> "MisbehavingPeer":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.address, 0))
            listener.listen(8)
            listener.setblocking(False)
        except OSError as error:
            listener.close()
            self._wakeup.close()
            raise ServerError(f"misbehaving peer {self.name} could not listen on {self.address}: {error}") \
                from error
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._start_thread(self._accept_loop, f"peer-{self.name}-accept")
        log.info("misbehaving peer %s listening on %s:%d", self.name, self.address, self.port)
        return self

    def _start_thread(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "listener")
        self._wakeup.register(selector)
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.data is self._wakeup:
                        return
                    self._accept()
        except BaseException as error:  # re-raised by __exit__
            self._errors.append(error)
        finally:
            selector.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, client = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        # Without TCP_NODELAY, Nagle's algorithm holds the TLS 1.3 session
        # tickets behind the client's delayed ACK: about 40 ms per session.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = PeerConnection(sock, self.hostname, self.tls_context, self._stopping)
        with self._lock:
            self.connections.append(connection)
        self._start_thread(self._run_behaviour, f"peer-{self.name}-{client[1]}", connection, client[0])

    def _run_behaviour(self, connection: PeerConnection, client: str) -> None:
        try:
            self.behaviour(connection)
        except OSError as error:
            # The client hung up, reset or timed out: the expected end of most cases.
            log.debug("%s peer %s: connection ended: %r", client, self.name, error)
        except BaseException as error:  # a broken script; re-raised by __exit__
            self._errors.append(error)
        finally:
            connection.sock.close()

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._wakeup.fire()
        with self._lock:
            connections, threads = list(self.connections), list(self._threads)
        for connection in connections:
            connection.interrupt()
        stuck = self._join(threads)
        if self._listener is not None:
            self._listener.close()
        self._wakeup.close()
        if stuck:
            raise ServerError(f"misbehaving peer {self.name}: threads {', '.join(stuck)} did not stop "
                              f"within {timeouts.SERVER_STOP_TIMEOUT} s")
        if self._errors:
            raise ServerError(f"misbehaving peer {self.name} failed: {self._errors[0]!r}") from self._errors[0]

    def _join(self, threads: list[threading.Thread]) -> list[str]:
        for thread in threads:
            thread.join(timeouts.SERVER_STOP_TIMEOUT)
        return [thread.name for thread in threads if thread.is_alive()]


# Behaviours: one misbehaviour each. Factories take the detail that varies.

def _greet_with(line: bytes, name: str) -> Behaviour:
    """Send ``line`` as the greeting, then wait for the client to give up."""
    def behaviour(peer: PeerConnection) -> None:
        peer.send(line)
        peer.pause(timeouts.PEER_READ_TIMEOUT)

    behaviour.__name__ = name
    return behaviour


def garbage_banner(data: bytes = b"SSH-2.0-OpenSSH_9.6\r\n") -> Behaviour:
    """Greet with bytes that are no SMTP reply, as a port forwarded to the wrong service does."""
    return _greet_with(data, "garbage_banner")


def huge_reply_line(size: int = 1 << 20) -> Behaviour:
    """Greet with one reply line of ``size`` octets (one megabyte by default)."""
    # Built once here, so memory measured while a client reads it is the client's own.
    return _greet_with(b"220 " + b"x" * size + b"\r\n", "huge_reply_line")


def endless_multiline(peer: PeerConnection) -> None:
    """Answer EHLO with ``250-`` continuation lines that never reach a last line."""
    peer.greet()
    peer.expect("EHLO")
    count = 0
    while not peer.stopping and count < 1_000_000:
        peer.send(f"250-EXTENSION-{count}\r\n".encode())
        count += 1


def dribble(data: bytes = b"220 slow.peer.test ESMTP\r\n", interval: float = 1.0) -> Behaviour:
    """Send ``data`` one byte every ``interval`` seconds: a reply that is always nearly there."""
    def behaviour(peer: PeerConnection) -> None:
        for index in range(len(data)):
            peer.send(data[index:index + 1])
            if not peer.pause(interval):
                return

    behaviour.__name__ = "dribble"
    return behaviour


def malformed_code(line: bytes = b"2x0 mx.peer.test ESMTP\r\n") -> Behaviour:
    """Greet with a reply whose code is not three digits from 2xx to 5xx."""
    return _greet_with(line, "malformed_code")


def _ready_for_tls(peer: PeerConnection) -> None:
    peer.greet()
    peer.answer_ehlo()
    peer.expect("STARTTLS")
    peer.reply(220, "2.0.0 Ready to start TLS")


def reset_mid_handshake(peer: PeerConnection) -> None:
    """Read the ClientHello, send the first bytes of a ServerHello record, then reset."""
    _ready_for_tls(peer)
    peer.read_client_hello()
    peer.send(TLS_RECORD_HEADER.pack(TLS_HANDSHAKE_RECORD, 0x0303, 122) + b"\x02\x00")
    peer.reset()


def plaintext_after_starttls(peer: PeerConnection) -> None:
    """Answer the ClientHello with an SMTP line, as a server that never started TLS does."""
    _ready_for_tls(peer)
    peer.read_client_hello()
    peer.send(f"220 {peer.hostname} ESMTP\r\n".encode())
    peer.pause(timeouts.PEER_READ_TIMEOUT)


def injected_after_ready(peer: PeerConnection) -> None:
    """Send plaintext right behind "220 Ready", before any handshake (STARTTLS injection)."""
    peer.greet()
    peer.answer_ehlo()
    peer.expect("STARTTLS")
    peer.send(b"220 2.0.0 Ready to start TLS\r\n250 injected reply\r\n")
    peer.pause(timeouts.PEER_READ_TIMEOUT)


def slow_handshake(interval: float = 0.2) -> Behaviour:
    """Answer the ClientHello one byte every ``interval`` seconds, never finishing the record."""
    def behaviour(peer: PeerConnection) -> None:
        _ready_for_tls(peer)
        peer.read_client_hello()
        record = TLS_RECORD_HEADER.pack(TLS_HANDSHAKE_RECORD, 0x0303, 16384) + b"\x02" * 16384
        for index in range(len(record)):
            peer.send(record[index:index + 1])
            if not peer.pause(interval):
                return

    behaviour.__name__ = "slow_handshake"
    return behaviour


# The stages at which ``close_at`` can close, in dialogue order: before the
# banner, after reading EHLO, STARTTLS, the ClientHello, MAIL, RCPT and DATA,
# right after "354", and after the message but before its final reply.
CLOSE_STAGES = ("banner", "ehlo", "starttls", "handshake", "mail", "rcpt", "data", "data-ready", "message")


def dialogue(close_at: str | None = None) -> Behaviour:
    """Play a healthy receiving MTA, or close the connection at stage ``close_at``.

    Without ``close_at`` the peer accepts the message: the passing control of
    every close case. Needs ``tls_context`` on the peer from the handshake on.
    """
    if close_at is not None and close_at not in CLOSE_STAGES:
        raise ValueError(f"invalid stage {close_at!r}; use one of {', '.join(CLOSE_STAGES)}")

    def behaviour(peer: PeerConnection) -> None:
        if _plaintext_part(peer, close_at):
            _encrypted_part(peer, close_at)

    behaviour.__name__ = f"close_at_{close_at}" if close_at else "dialogue"
    return behaviour


def _closing(peer: PeerConnection, stage: str, close_at: str | None) -> bool:
    if stage != close_at:
        return False
    peer.close()
    return True


def _plaintext_part(peer: PeerConnection, close_at: str | None) -> bool:
    """Play banner, EHLO and STARTTLS; return False when the peer closed on the way."""
    if _closing(peer, "banner", close_at):
        return False
    peer.greet()
    peer.expect("EHLO")
    if _closing(peer, "ehlo", close_at):
        return False
    peer.reply(250, peer.hostname, "PIPELINING", "STARTTLS")
    peer.expect("STARTTLS")
    if _closing(peer, "starttls", close_at):
        return False
    peer.reply(220, "2.0.0 Ready to start TLS")
    if close_at == "handshake":
        peer.read_client_hello()
        peer.close()
        return False
    return True


def _encrypted_part(peer: PeerConnection, close_at: str | None) -> None:
    """Play the handshake, EHLO again, MAIL, RCPT, DATA and QUIT, closing at ``close_at``."""
    peer.start_tls()
    peer.expect("EHLO")
    peer.reply(250, peer.hostname, "PIPELINING")
    peer.expect("MAIL")
    if _closing(peer, "mail", close_at):
        return
    peer.reply(250, "2.1.0 OK")
    peer.expect("RCPT")
    if _closing(peer, "rcpt", close_at):
        return
    peer.reply(250, "2.1.5 OK")
    peer.expect("DATA")
    if _closing(peer, "data", close_at):
        return
    peer.reply(354, "End data with <CR><LF>.<CR><LF>")
    if _closing(peer, "data-ready", close_at):
        return
    peer.read_message()
    if _closing(peer, "message", close_at):
        return
    peer.reply(250, "2.0.0 OK: queued by misbehaving peer")
    peer.expect("QUIT")
    peer.reply(221, "2.0.0 Bye")
