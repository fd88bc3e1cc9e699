"""What the local Python and OpenSSL can reproduce, found once by trying it.

OpenSSL builds differ: Debian's OpenSSL 3 still speaks TLS 1.0 at security
level 0, other builds have it compiled out, and SSLv3 is gone from every
current one. Instead of guessing from version numbers, the harness runs one
in-memory handshake per capability and skips scenarios whose capability is
missing, with the reason, as urllib3's test suite does for old TLS versions.
"""

from __future__ import annotations

import functools
import socket
import ssl

from .pki import CertificateSpec, SimulatedPKI
from .tls import TLSSettings, Version, _set_versions, server_context


@functools.lru_cache(maxsize=None)
def _tls_version_reason(version: Version, certfile: str, keyfile: str) -> str | None:
    settings = TLSSettings(min_version=version, max_version=version, security_level=0)
    server = server_context(settings, certfile, keyfile)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    _set_versions(client, version, version)

    left, right = socket.socketpair()
    try:
        left.settimeout(5.0)
        right.settimeout(5.0)
        import threading

        errors: list[BaseException] = []

        def accept() -> None:
            try:
                server.wrap_socket(right, server_side=True).close()
            except (ssl.SSLError, OSError) as error:
                errors.append(error)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            client.wrap_socket(left).close()
        except (ssl.SSLError, OSError) as error:
            return f"{ssl.OPENSSL_VERSION} cannot negotiate {version.value}: {error}"
        finally:
            thread.join(5.0)
        return None
    finally:
        left.close()
        right.close()


def missing(requirement: str, pki: SimulatedPKI) -> str | None:
    """Return why ``requirement`` cannot be met on this machine, or None when it can."""
    if requirement in ("tls1.0", "tls1.1"):
        version = Version.TLS1_0 if requirement == "tls1.0" else Version.TLS1_1
        issued = pki.issue(CertificateSpec(names=("capability.test",)))
        return _tls_version_reason(version, str(issued.certfile), str(issued.keyfile))
    if requirement == "ipv6":
        return _ipv6_reason()
    return f"unknown capability {requirement!r}"


@functools.lru_cache(maxsize=None)
def _ipv6_reason() -> str | None:
    if not socket.has_ipv6:
        return "this Python was built without IPv6"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        return f"no IPv6 loopback address ::1 on this machine: {error}"
    return None
