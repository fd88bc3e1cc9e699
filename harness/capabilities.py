"""The capabilities of the local Python and OpenSSL, found once by trying each.

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
import threading

from . import timeouts
from .errors import ConfigurationError
from .pki import CertificateSpec, SimulatedPKI
from .tlslite_import import tlslite_api
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
    if requirement == "tlslite":
        return _tlslite_reason()
    if requirement == "dh1024":
        issued = pki.issue(CertificateSpec(names=("capability.test",)))
        return _dh1024_reason(str(issued.certfile), str(issued.keyfile))
    return f"unknown capability {requirement!r}"


@functools.lru_cache(maxsize=None)
def _tlslite_reason() -> str | None:
    try:
        tlslite_api()
    except ImportError as error:
        return f"tlslite-ng, which plays the SSLv3, RC4 and 3DES servers, cannot be imported: {error}"
    return None


@functools.lru_cache(maxsize=None)
def _dh1024_reason(certfile: str, keyfile: str) -> str | None:
    """Check that the local OpenSSL serves DHE with a 1024-bit group at security level 1.

    Builds with a system-wide policy above level 1 (Fedora and RHEL crypto
    policies, for example) refuse to load such a group at all.
    """
    settings = TLSSettings(max_version=Version.TLS1_2, ciphers="DHE-RSA-AES128-GCM-SHA256",
                           security_level=1, dh_group="rfc2409-group2")
    try:
        server = server_context(settings, certfile, keyfile)
    except ConfigurationError as error:
        return f"{ssl.OPENSSL_VERSION} cannot serve a 1024-bit DH group: {error}"
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_ciphers("DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    error = _handshake_error(server, client)
    return f"{ssl.OPENSSL_VERSION} cannot negotiate DHE with a 1024-bit group: {error}" if error else None


def _handshake_error(server: ssl.SSLContext, client: ssl.SSLContext) -> BaseException | None:
    """Run one handshake over a socket pair and return the client's error, or None on success."""
    left, right = socket.socketpair()
    left.settimeout(timeouts.HANDSHAKE_TIMEOUT)
    right.settimeout(timeouts.HANDSHAKE_TIMEOUT)

    def accept() -> None:
        try:
            server.wrap_socket(right, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client's side of the failure is the one reported

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        client.wrap_socket(left).close()
    except (ssl.SSLError, OSError) as error:
        return error
    finally:
        thread.join(timeouts.HANDSHAKE_TIMEOUT)
        left.close()
        right.close()
    return None


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
