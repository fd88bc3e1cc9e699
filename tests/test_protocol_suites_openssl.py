"""`openssl s_client` confirms the wire behaviour of the protocol, cipher-suite and key-exchange scenarios.

The checks parse OpenSSL 3's packed error codes (library 0x0A is libssl,
the low bits the reason from include/openssl/sslerr.h), never message text:

- 0A000102 SSL_R_UNSUPPORTED_PROTOCOL: the server chose a version the client does not allow
- 0A00042E SSL_R_TLSV1_ALERT_PROTOCOL_VERSION: the server sent the protocol_version alert
- 0A000410 SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE: the server sent handshake_failure
- 0A00018A SSL_R_DH_KEY_TOO_SMALL: the client rejected the server's DH group
"""

from __future__ import annotations

import re
import subprocess

import pytest

from harness import timeouts
from harness.tls import MICROSOFT_TLS12_CIPHERS

pytestmark = pytest.mark.thirdparty

_ERROR = re.compile(r"error:([0-9A-F]{8}):SSL routines:")
# "New, <version that defined the suite>, Cipher is <suite>", e.g. "New, SSLv3, Cipher is AES256-SHA".
_CIPHER = re.compile(r"^New, (\S+), Cipher is (\S+)$", re.MULTILINE)
_PROTOCOL = re.compile(r"^\s+Protocol\s+: (\S+)$", re.MULTILINE)
_VERIFY = re.compile(r"Verify return code: (\d+)")


def _s_client(openssl: str, host, *extra: str) -> str:  # type: ignore[no-untyped-def]
    command = [
        openssl, "s_client", "-starttls", "smtp", "-connect", f"{host.address.address}:{host.address.port}",
        "-servername", host.mx, "-CAfile", host.cafile, "-verify_hostname", host.mx, *extra,
    ]
    done = subprocess.run(command, input=b"QUIT\r\n", capture_output=True, timeout=timeouts.TOOL_TIMEOUT)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def _error_codes(output: str) -> list[str]:
    return _ERROR.findall(output)


def _cipher(output: str) -> tuple[str, str]:
    match = _CIPHER.search(output)
    assert match, f"no 'New, ..., Cipher is' line in s_client output:\n{output}"
    return match.group(1), match.group(2)


MICROSOFT = ("-tls1_2", "-cipher", MICROSOFT_TLS12_CIPHERS)

BROKEN = [
    # slug, s_client options, the OpenSSL error code it must print
    ("tls11-only", ("-tls1_2",), "0A000102"),
    ("sslv3-only", (), "0A00042E"),
    ("tls12-weak-ciphers-only", MICROSOFT, "0A000410"),
    ("rc4-only", MICROSOFT, "0A000410"),
    ("3des-only", MICROSOFT, "0A000410"),
    ("static-rsa-only", MICROSOFT, "0A000410"),
    ("dh1024", MICROSOFT, "0A000410"),
    ("dh1024", (), "0A00018A"),
]


@pytest.mark.parametrize("slug, options, code", BROKEN)
def test_s_client_broken_error_code(openssl_binary, scenario_host, slug, options, code):
    output = _s_client(openssl_binary, scenario_host(slug, "broken"), *options)

    assert code in _error_codes(output), output
    assert _cipher(output)[1] == "(NONE)"


@pytest.mark.parametrize("slug", sorted({case[0] for case in BROKEN}))
def test_s_client_fixed_verifies_with_microsoft_suites(openssl_binary, scenario_host, slug):
    output = _s_client(openssl_binary, scenario_host(slug, "fixed"), *MICROSOFT)

    verify = _VERIFY.search(output)
    assert verify and verify.group(1) == "0", output
    assert _cipher(output)[1] in MICROSOFT_TLS12_CIPHERS.split(":")
    assert _error_codes(output) == []


@pytest.mark.parametrize("slug", ["tls12-weak-ciphers-only", "static-rsa-only"])
def test_s_client_default_list_connects_to_weak_suites(openssl_binary, scenario_host, slug):
    # The trap in these two scenarios: OpenSSL's default list still shares a
    # suite with the server, so a test with default tools reports success.
    host = scenario_host(slug, "broken")

    output = _s_client(openssl_binary, host)

    protocol = _PROTOCOL.search(output)
    assert protocol and protocol.group(1) == "TLSv1.2", output
    assert _cipher(output)[1] in host.variant.tls.ciphers.split(":")
    assert _cipher(output)[1] not in MICROSOFT_TLS12_CIPHERS.split(":")
    # No ephemeral key: static RSA key transport.
    assert "Server Temp Key" not in output
