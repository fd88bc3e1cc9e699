"""Asking a host, through tlslite-ng, about the protocol and suites that OpenSSL 3 no longer speaks.

When no TLS version from 1.0 to 1.3 completes a handshake through OpenSSL,
the host may speak only SSLv3, or offer only RC4 or 3DES suites. All three
are compiled out of current OpenSSL builds, so the ssl module cannot tell
them apart. tlslite-ng, the pure-Python TLS stack the harness already uses
to serve such hosts, still speaks them as a client. Each question here is
one SMTP session with one tlslite-ng handshake, after STARTTLS or at once
(implicit TLS).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from .tlslite_import import tlslite_api

# Wire versions (RFC 8446 appendix D, legacy_version) and their usual names.
VERSION_NAMES = {(3, 0): "SSLv3", (3, 1): "TLSv1", (3, 2): "TLSv1.1", (3, 3): "TLSv1.2"}


@dataclass(frozen=True)
class LegacyAnswer:
    """The result of one tlslite-ng handshake: what it negotiated, or why it failed."""

    question: str
    ok: bool
    detail: str


def handshake(sock: socket.socket, sni: str | None, versions: list[tuple[int, int]],
              ciphers: list[str]) -> str:
    """Run a tlslite-ng client handshake on ``sock``; return "VERSION cipher" or raise."""
    api = tlslite_api()
    settings = api.HandshakeSettings()
    settings.minVersion, settings.maxVersion = min(versions), max(versions)
    settings.versions = sorted(versions, reverse=True)
    settings.cipherNames = ciphers
    connection = api.TLSConnection(sock)
    try:
        connection.handshakeClientCert(settings=settings, serverName=sni)
        return f"{VERSION_NAMES.get(connection.version, str(connection.version))} {connection.getCipherName()}"
    finally:
        connection.sock.close()


def ask(open_session, sni: str | None, question: str, versions: list[tuple[int, int]],  # type: ignore[no-untyped-def]
        ciphers: list[str]) -> LegacyAnswer:
    """Open a session with ``open_session()`` (a socket ready for the handshake) and ask one question."""
    from tlslite.errors import BaseTLSException

    try:
        sock = open_session()
    except Exception as error:  # the caller's session errors carry their own message
        return LegacyAnswer(question, False, f"no session: {error}")
    try:
        return LegacyAnswer(question, True, handshake(sock, sni, versions, ciphers))
    except (BaseTLSException, OSError) as error:
        return LegacyAnswer(question, False, f"{type(error).__name__}: {error}".rstrip(": "))
    finally:
        sock.close()


def ask_all(open_session, sni: str | None) -> dict[str, LegacyAnswer]:  # type: ignore[no-untyped-def]
    """Ask whether the host speaks SSLv3, and whether it offers RC4 or 3DES over TLS 1.0 to 1.2."""
    tls = [(3, 1), (3, 2), (3, 3)]
    questions = {
        "sslv3": ([(3, 0)], ["aes128", "aes256", "3des", "rc4"]),
        "rc4": (tls, ["rc4"]),
        "3des": (tls, ["3des"]),
    }
    return {name: ask(open_session, sni, name, versions, ciphers)
            for name, (versions, ciphers) in questions.items()}

