"""Helpers shared by the tests: raw STARTTLS sockets for third-party-style clients, scenario files on disk."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from harness import timeouts


def starttls_socket(address: str, port: int) -> socket.socket:
    """Open a plaintext SMTP session, issue STARTTLS and return the socket ready for a handshake."""
    sock = socket.create_connection((address, port), timeout=timeouts.CONNECT_TIMEOUT)
    reader = sock.makefile("rb")
    _read_reply(reader)
    sock.sendall(b"EHLO client.test\r\n")
    _read_reply(reader)
    sock.sendall(b"STARTTLS\r\n")
    code = _read_reply(reader)
    assert code == 220, f"STARTTLS answered {code}"
    reader.close()
    return sock


def _read_reply(reader) -> int:  # type: ignore[no-untyped-def]
    while True:
        line = reader.readline(4096)
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


@pytest.fixture
def openssl_binary() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl command is not installed; .ci/run installs it")
    return path


def write_scenario(folder: Path, text: str, group: str = "certificate", name: str = "case.toml") -> Path:
    """Write a scenario file into ``folder/group/name``, as the catalog lays them out, and return its path."""
    path = folder / group / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path
