"""Safe by default: loopback only, private keys owner-only and removed, no system trust store."""

from __future__ import annotations

import io
import os
import selectors
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import timeouts
from harness.catalog import load_catalog
from harness.cli import EXIT_OK, EXIT_USAGE, main
from harness.errors import ConfigurationError
from harness.lab import Lab
from harness.outcome import FailureClass
from harness.smtpserver import MailServer, ServerConfig
from harness.tls import strict_client_context

# The child resets SIGINT to Python's own handler: a shell that starts a
# job in the background makes it ignore SIGINT, and the child inherits that.
SERVE = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
)


# serve: private keys in an owner-only folder, removed on every way out

def _start_serve(*argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-W", "error", "-c", SERVE, "serve", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_until_ready(process: subprocess.Popen[bytes]) -> str:
    """Read the serve banner up to its "ready" line, within the server start timeout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeouts.SERVER_START_TIMEOUT + timeouts.TOOL_TIMEOUT
    text = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\nready" not in text:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and selector.select(remaining), f"serve did not get ready: {text!r}"
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, f"serve ended early: {text!r}"
            text += chunk
    return text.decode()


def _pki_folder(banner: str) -> Path:
    line = next(line for line in banner.splitlines() if line.strip().startswith("CA file"))
    return Path(line.split()[2]).parent


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_serve_keeps_keys_private_and_removes_them(number):
    process = _start_serve("self-signed")
    try:
        folder = _pki_folder(_read_until_ready(process))
        keys = sorted(folder.glob("key-*.pem"))

        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.stat().st_uid == os.getuid()
        assert keys, f"no private key in {folder}"
        assert all(stat.S_IMODE(key.stat().st_mode) == 0o600 for key in keys)

        process.send_signal(number)
        out, err = process.communicate(timeout=timeouts.TOOL_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == EXIT_OK, err.decode()
    assert b"stopped; the lab's keys and certificates are removed" in out
    assert b"Traceback" not in err
    assert not folder.exists()


# serve: loopback unless --listen says otherwise, and then a warning

def _serve_in_process(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["serve", "self-signed", "--duration", "0.1", *argv], out=out)
    return status, out.getvalue()


def test_serve_binds_loopback_by_default(capsys):
    status, text = _serve_in_process()

    smtp_line = next(line for line in text.splitlines() if "SMTP server" in line)
    assert status == EXIT_OK
    assert smtp_line.split()[2].startswith("127.")
    assert "warning" not in capsys.readouterr().err


def test_serve_listens_on_given_loopback_address_without_warning(capsys):
    status, text = _serve_in_process("--listen", "127.0.0.77")

    assert status == EXIT_OK
    assert "SMTP server   127.0.0.77 port " in text
    assert "warning" not in capsys.readouterr().err


def test_serve_warns_before_listening_outside_loopback(capsys):
    # The loopback guard of this test run stops the bind itself, so nothing
    # listens outside loopback; what the user sees is the warning, then a
    # one-line error from the refused bind.
    status, _ = _serve_in_process("--listen", "192.0.2.1")

    err = capsys.readouterr().err
    assert status == EXIT_USAGE
    assert err.startswith("smtp-harness: warning: --listen 192.0.2.1 is outside loopback")
    assert "smtp-harness: error: SMTP server could not listen on 192.0.2.1" in err
    assert "Traceback" not in err


def test_serve_rejects_listen_value_that_is_no_address(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["serve", "self-signed", "--listen", "mail.example.test"])

    assert caught.value.code == EXIT_USAGE
    assert "invalid address 'mail.example.test'" in capsys.readouterr().err


def test_mail_server_rejects_non_loopback_without_opt_in():
    with pytest.raises(ConfigurationError) as caught:
        MailServer(ServerConfig(hostname="mx.example.test", certificate=None), address="192.0.2.1")

    assert "not a loopback address" in str(caught.value)


# The strict client trusts the simulated public root and nothing else

@pytest.fixture
def system_store_with_untrusted_root(tmp_path, monkeypatch):
    """Make OpenSSL's default verify paths contain the lab's untrusted root, then yield a lab."""
    with Lab() as lab:
        assert lab.pki is not None
        bundle = tmp_path / "system-bundle.pem"
        bundle.write_bytes(lab.pki.untrusted_root.pem)
        monkeypatch.setenv(ssl.get_default_verify_paths().openssl_cafile_env, str(bundle))
        monkeypatch.setenv(ssl.get_default_verify_paths().openssl_capath_env, str(tmp_path))
        yield lab


def test_default_verify_paths_would_trust_the_planted_root(system_store_with_untrusted_root):
    # The control: a context that loads the system store does pick the root up.
    lab = system_store_with_untrusted_root
    context = ssl.create_default_context()

    units = [value for cert in context.get_ca_certs() for rdn in cert["subject"] for key, value in rdn
             if key == "organizationalUnitName"]

    assert "Untrusted Root" in units
    assert lab.pki is not None


def test_strict_client_ignores_the_system_store(system_store_with_untrusted_root):
    lab = system_store_with_untrusted_root
    scenario = load_catalog().get("untrusted-root")

    outcome = lab.run_variant(scenario, "broken")

    assert outcome.failure_class is FailureClass.CERTIFICATE_NOT_TRUSTED
    assert scenario.broken.expect.mismatches(outcome) == []


def test_strict_context_holds_only_the_given_root():
    with Lab() as lab:
        context = strict_client_context(lab.cafile)

        assert context.cert_store_stats()["x509_ca"] == 1
        assert [int(cert["serialNumber"], 16) for cert in context.get_ca_certs()] == [
            lab.pki.root.certificate.serial_number]


# The loopback guard of the test run

def test_guard_rejects_bind_outside_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(ConnectionRefusedError) as caught:
            sock.bind(("192.0.2.1", 0))

    assert "outside loopback" in str(caught.value)


@pytest.mark.parametrize("event", ["socket.connect", "socket.sendto"])
def test_guard_rejects_traffic_outside_loopback(event):
    # The audit event is raised by hand, so even a broken guard sends nothing.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(ConnectionRefusedError) as caught:
            sys.audit(event, sock, ("192.0.2.1", 25))

    assert "outside loopback" in str(caught.value)


def test_guard_allows_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))

        assert sock.getsockname()[0] == "127.0.0.1"
