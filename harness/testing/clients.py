"""Misbehaving SMTP clients for tests: the other direction, aimed at the strict receiver.

A receiver on the Internet meets broken and hostile senders all day. These
clients break the dialogue the way such senders do. They stay silent after
the banner, send garbage, a line of one megabyte or a run of unknown
commands, send plaintext after "220" to STARTTLS, reset in the middle of the
handshake, or close at any stage. Tests check that the receiver ends each session
within its named timeout, answers with the right reply code where it can,
and still accepts mail from the next, healthy sender.

Replies are read with the client's own bounded ``Wire``, so a receiver
that misbehaves in turn cannot hang the test either.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time

from .. import timeouts
from ..loopback import require_loopback
from ..outcome import Reply
from ..smtpwire import SMTPDisconnected, Wire


class MisbehavingClient:
    """One TCP connection to an SMTP server on loopback, driven by hand; a context manager.

    ``source`` is the loopback address to connect from, which the strict
    receiver checks in DNS (PTR) at MAIL FROM.
    """

    def __init__(self, address: str, port: int, source: str | None = None,
                 reply_timeout: float = timeouts.REPLY_TIMEOUT) -> None:
        require_loopback(address, "misbehaving client target")
        self.address = address
        self.port = port
        self.source = source
        self.reply_timeout = reply_timeout
        self.sock: socket.socket | None = None
        self.wire: Wire | None = None

    def __enter__(self) -> "MisbehavingClient":
        source = (self.source, 0) if self.source else None
        self.sock = socket.create_connection((self.address, self.port), timeout=timeouts.CONNECT_TIMEOUT,
                                             source_address=source)
        self.wire = Wire(self.sock, self.reply_timeout)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.sock is not None:
            self.sock.close()

    # Talking

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(data)

    def reply(self) -> Reply:
        assert self.wire is not None
        return self.wire.read_reply("the server's reply")

    def command(self, line: str) -> Reply:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def start_tls(self, server_hostname: str) -> None:
        """Handshake without verification: these tests are about the dialogue, not the certificate."""
        assert self.sock is not None and self.wire is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.wire.sock = self.sock

    def send_client_hello_start(self) -> None:
        """Send the first bytes of a TLS handshake record, as a ClientHello cut short would."""
        self.send(struct.pack("!BHH", 22, 0x0301, 512) + b"\x01\x00\x01\xfc\x03\x03")

    # Ending

    def reset(self) -> None:
        """Close with a TCP RST (zero linger time), as a crashed or killed sender does."""
        assert self.sock is not None
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def wait_for_close(self, timeout: float) -> float | None:
        """Read until the server closes the connection; return the seconds it took, or None at ``timeout``.

        Everything the server sends meanwhile is read and dropped, so its
        writes never block on us.
        """
        assert self.sock is not None
        started = time.monotonic()
        deadline = started + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                if not self.sock.recv(65536):
                    return time.monotonic() - started
            except socket.timeout:
                return None
            except (ConnectionError, ssl.SSLError, SMTPDisconnected):
                return time.monotonic() - started
        return None
