"""SMTP on the wire, client side: reading replies with bounds, writing commands, keeping a transcript.

A reply is one or more lines ``ddd-text`` ending with a line ``ddd text``
(RFC 5321 section 4.2). Peers under test are broken by design, so every read
is bounded: in time (the whole reply must arrive within its timeout, which
also stops a peer that sends one byte per second), in line length and in line
count. RFC 5321 section 4.5.3.1.5 limits a reply line to 512 octets; real
servers exceed that a little, so lines up to MAX_LINE octets are accepted.
The receive buffer never holds more than MAX_BUFFER octets, whatever the
peer sends: a one-megabyte line costs one small read, not a megabyte.
"""

from __future__ import annotations

import re
import socket
import time

from .errors import HarnessError
from .outcome import Reply

MAX_LINE = 4096
MAX_REPLY_LINES = 100
# One line of MAX_LINE octets with its CRLF: the most the receive buffer holds.
MAX_BUFFER = MAX_LINE + 2

_REPLY_LINE = re.compile(rb"^([2-5][0-9][0-9])([ -]?)(.*)$", re.DOTALL)


class SMTPProtocolError(HarnessError):
    """The peer broke the SMTP syntax: a malformed, oversized or endless reply."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class SMTPTimeout(HarnessError):
    """The peer did not complete a reply within its named timeout."""

    def __init__(self, what: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g} s waiting for {what}")


class SMTPDisconnected(HarnessError):
    """The peer closed the connection before its reply was complete."""


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """Parse one reply line without its CRLF into (code, is_last, text).

    Accepts ``250``, ``250 text`` and ``250-text``. Raises SMTPProtocolError
    for anything else, naming the line.
    """
    match = _REPLY_LINE.match(line)
    if match is None:
        shown = line[:60].decode("ascii", "backslashreplace")
        raise SMTPProtocolError("malformed-reply", f"malformed SMTP reply line {shown!r}: "
                                "expected a three-digit code 2xx to 5xx")
    code, separator, text = match.groups()
    if separator == b"" and text:
        shown = line[:60].decode("ascii", "backslashreplace")
        raise SMTPProtocolError("malformed-reply", f"malformed SMTP reply line {shown!r}: "
                                "the code must be followed by a space, a hyphen or the line end")
    return int(code), separator != b"-", text.decode("utf-8", "replace")


class Wire:
    """A client's SMTP connection: bounded reads, commands and a transcript.

    ``transcript`` collects lines prefixed ``S:`` (from the server), ``C:``
    (from the client) and ``--`` (what happened in between, such as the TLS
    handshake).
    """

    def __init__(self, sock: socket.socket, reply_timeout: float) -> None:
        self.sock = sock
        self.reply_timeout = reply_timeout
        self.buffer = b""
        self.peak_buffer = 0  # the largest the receive buffer has been, in octets
        self.transcript: list[str] = []

    def note(self, text: str) -> None:
        self.transcript.append(f"-- {text}")

    def send(self, line: str) -> None:
        shown = line if not line.upper().startswith("AUTH") else "AUTH ***"
        self.transcript.append(f"C: {shown}")
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def send_data(self, payload: bytes) -> None:
        self.transcript.append(f"C: <message, {len(payload)} bytes>")
        self.sock.sendall(payload)

    def command(self, line: str, what: str | None = None) -> Reply:
        self.send(line)
        return self.read_reply(what or f"the reply to {line.split()[0]}")

    def read_reply(self, what: str) -> Reply:
        """Read one complete reply, within ``reply_timeout`` seconds in total."""
        deadline = time.monotonic() + self.reply_timeout
        lines: list[str] = []
        code = 0
        while True:
            raw = self._read_line(deadline, what)
            self.transcript.append("S: " + raw.decode("utf-8", "replace"))
            line_code, last, text = parse_reply_line(raw)
            if lines and line_code != code:
                raise SMTPProtocolError("malformed-reply",
                                        f"reply lines carry different codes {code} and {line_code}")
            code = line_code
            lines.append(text)
            if last:
                return Reply(code, tuple(lines))
            if len(lines) >= MAX_REPLY_LINES:
                raise SMTPProtocolError("reply-too-long",
                                        f"{what}: more than {MAX_REPLY_LINES} lines in one reply")

    def _read_line(self, deadline: float, what: str) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
                if len(line) > MAX_LINE:
                    raise SMTPProtocolError("line-too-long", f"{what}: a reply line of {len(line)} octets "
                                            f"exceeds {MAX_LINE}")
                return line.rstrip(b"\r")
            if len(self.buffer) >= MAX_BUFFER:
                raise SMTPProtocolError("line-too-long", f"{what}: a reply line exceeds {MAX_LINE} octets")
            self._fill(deadline, what)

    def _fill(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SMTPTimeout(what, self.reply_timeout)
        self.sock.settimeout(remaining)
        try:
            # Read only what still fits, so the buffer stays within MAX_BUFFER.
            chunk = self.sock.recv(MAX_BUFFER - len(self.buffer))
        except socket.timeout as error:
            raise SMTPTimeout(what, self.reply_timeout) from error
        if not chunk:
            raise SMTPDisconnected(f"connection closed by the server while waiting for {what}")
        self.buffer += chunk
        self.peak_buffer = max(self.peak_buffer, len(self.buffer))
