"""Clients see the alert a real OpenSSL-based MTA sends, not a bare EOF.

Reference, measured against a TLS-1.0-only Postfix 3.7 on OpenSSL 3: Python's
default client receives the protocol_version alert, and
``openssl s_client -starttls smtp -tls1_2`` stops with
``ssl_choose_client_version:unsupported protocol`` (error 0A000102).
"""

from __future__ import annotations

import re
import ssl
import subprocess

import pytest

from harness import timeouts

from .conftest import starttls_socket


def _python_default_handshake(host) -> ssl.SSLSocket:  # type: ignore[no-untyped-def]
    context = ssl.create_default_context(cafile=host.cafile)
    sock = starttls_socket(host.address.address, host.address.port)
    return context.wrap_socket(sock, server_hostname=host.mx)


def test_python_client_receives_protocol_version_alert(scenario_host):
    host = scenario_host("tls10-only", "broken")

    with pytest.raises(ssl.SSLError) as caught:
        _python_default_handshake(host)

    assert caught.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert not isinstance(caught.value, ssl.SSLEOFError)


def test_python_client_handshakes_with_fixed_tls(scenario_host):
    host = scenario_host("tls10-only", "fixed")

    with _python_default_handshake(host) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_python_client_verify_code_self_signed(scenario_host):
    host = scenario_host("self-signed", "broken")

    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _python_default_handshake(host)

    assert caught.value.verify_code == 18


def _s_client(openssl: str, host, *extra: str) -> str:  # type: ignore[no-untyped-def]
    command = [
        openssl, "s_client", "-starttls", "smtp", "-connect", f"{host.address.address}:{host.address.port}",
        "-servername", host.mx, "-CAfile", host.cafile, "-verify_hostname", host.mx, *extra,
    ]
    done = subprocess.run(command, input=b"QUIT\r\n", capture_output=True, timeout=timeouts.TOOL_TIMEOUT)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def _verify_code(output: str) -> int:
    match = re.search(r"Verify return code: (\d+)", output)
    assert match, f"no verify result in s_client output:\n{output}"
    return int(match.group(1))


@pytest.mark.thirdparty
def test_s_client_tls12_gets_unsupported_protocol(openssl_binary, scenario_host):
    output = _s_client(openssl_binary, scenario_host("tls10-only", "broken"), "-tls1_2")

    # 0A000102 is OpenSSL 3's SSL_R_UNSUPPORTED_PROTOCOL, raised in ssl_choose_client_version.
    assert re.search(r"error:0A000102:SSL routines:ssl_choose_client_version", output), output


@pytest.mark.thirdparty
def test_s_client_tls12_verifies_fixed_tls(openssl_binary, scenario_host):
    output = _s_client(openssl_binary, scenario_host("tls10-only", "fixed"), "-tls1_2")

    assert _verify_code(output) == 0


@pytest.mark.thirdparty
@pytest.mark.parametrize("slug, code", [("self-signed", 18), ("no-sni", 62)])
def test_s_client_verify_code_broken(openssl_binary, scenario_host, slug, code):
    output = _s_client(openssl_binary, scenario_host(slug, "broken"))

    assert _verify_code(output) == code


@pytest.mark.thirdparty
@pytest.mark.parametrize("slug", ["self-signed", "no-sni", "revoked", "tls10-only"])
def test_s_client_verifies_fixed(openssl_binary, scenario_host, slug):
    output = _s_client(openssl_binary, scenario_host(slug, "fixed"))

    assert _verify_code(output) == 0
