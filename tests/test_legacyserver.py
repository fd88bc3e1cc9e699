"""The tlslite-ng mail server: the SMTP dialogue on the wire, STARTTLS rules, and a bounded stop."""

from __future__ import annotations

import socket
import ssl

import pytest

from harness import timeouts
from harness.errors import ConfigurationError
from harness.legacyserver import LegacyMailServer
from harness.pki import CertificateSpec
from harness.smtpserver import ServerConfig, StartTLS
from harness.tls import Engine, TLSSettings, Version

from .conftest import _read_reply


def _certificate(lab):  # type: ignore[no-untyped-def]
    return lab.pki.issue(CertificateSpec(names=("mx.legacy.test",)))


@pytest.fixture
def legacy_server(smtp_lab):
    issued = _certificate(smtp_lab)
    settings = TLSSettings(engine=Engine.TLSLITE, min_version=Version.TLS1_2, max_version=Version.TLS1_2,
                           ciphers="aes128gcm")
    with LegacyMailServer(ServerConfig(hostname="mx.legacy.test", certificate=issued, tls=settings)) as server:
        yield server


class _Dialogue:
    """A plaintext SMTP client that sends one line and returns the reply code."""

    def __init__(self, server: LegacyMailServer) -> None:
        self.sock = socket.create_connection((server.address, server.port), timeout=timeouts.CONNECT_TIMEOUT)
        self.reader = self.sock.makefile("rb")
        self.banner = _read_reply(self.reader)

    def send(self, line: str) -> int:
        self.sock.sendall(line.encode() + b"\r\n")
        return _read_reply(self.reader)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def test_plaintext_dialogue_follows_rfc5321(legacy_server):
    client = _Dialogue(legacy_server)
    try:
        assert client.banner == 220
        assert client.send("MAIL FROM:<a@x.test>") == 503  # EHLO first
        assert client.send("EHLO client.test") == 250
        assert client.send("RCPT TO:<b@x.test>") == 503  # MAIL first
        assert client.send("DATA") == 503  # RCPT first
        assert client.send("MAIL FROM:<a@x.test>") == 250
        assert client.send("RCPT TO:<b@x.test>") == 250
        assert client.send("RSET") == 250
        assert client.send("STARTTLS now") == 501
        assert client.send("VRFY b") == 500
        assert client.send("QUIT") == 221
    finally:
        client.close()


def test_plaintext_message_is_recorded(legacy_server):
    client = _Dialogue(legacy_server)
    try:
        client.send("EHLO client.test")
        client.send("MAIL FROM:<a@x.test>")
        client.send("RCPT TO:<b@x.test>")
        assert client.send("DATA") == 354
        assert client.send("Subject: t\r\n\r\nbody\r\n.") == 250
    finally:
        client.close()

    messages = legacy_server.wait_for_event("message")
    assert [event.detail for event in messages] == ["from=<a@x.test> to=['<b@x.test>'] size=20"]


def test_version_mismatch_sends_protocol_version_alert(legacy_server):
    # The fixture speaks TLS 1.2 only, so a TLS-1.3-only client gets the alert.
    client = _Dialogue(legacy_server)
    client.send("EHLO client.test")
    assert client.send("STARTTLS") == 220
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    with pytest.raises(ssl.SSLError) as caught:
        context.wrap_socket(client.sock)
    client.close()

    assert caught.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
    failures = legacy_server.wait_for_event("tls-failed")
    assert [event.reason for event in failures] == ["protocol_version"]
    assert failures[0].peer.startswith("127.")


def test_stop_ends_idle_sessions(smtp_lab):
    issued = _certificate(smtp_lab)
    settings = TLSSettings(engine=Engine.TLSLITE)
    server = LegacyMailServer(ServerConfig(hostname="mx.legacy.test", certificate=issued, tls=settings))
    with server:
        idle = _Dialogue(server)

    # The idle session's thread was shut down and joined: the socket is closed by the server.
    assert idle.reader.read() == b""
    idle.close()


@pytest.mark.parametrize("change, problem", [
    ({"starttls": StartTLS.REFUSED}, "offered"),
    ({"certificate": None}, "needs a certificate"),
])
def test_unsupported_config_is_rejected(smtp_lab, change, problem):
    issued = _certificate(smtp_lab)
    values = {"hostname": "mx.legacy.test", "certificate": issued, "tls": TLSSettings(engine=Engine.TLSLITE)}
    values.update(change)

    with pytest.raises(ConfigurationError) as caught:
        LegacyMailServer(ServerConfig(**values))

    assert problem in str(caught.value)


def test_plaintext_pipelined_after_starttls_is_dropped(legacy_server):
    # Replying inside TLS to plaintext sent before the handshake would let an
    # attacker inject commands (CVE-2011-0411), so the server drops it.
    client = _Dialogue(legacy_server)
    client.send("EHLO client.test")
    client.sock.sendall(b"STARTTLS\r\nRSET\r\n")
    assert _read_reply(client.reader) == 220
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    with context.wrap_socket(client.sock) as tls:
        tls.sendall(b"EHLO client.test\r\n")
        reader = tls.makefile("rb")
        first = reader.readline()
        lines = [first]
        while lines[-1][3:4] == b"-":
            lines.append(reader.readline())
        reader.close()

    client.close()
    assert first == b"250-mx.legacy.test\r\n"
    assert b"STARTTLS" not in b"".join(lines)
