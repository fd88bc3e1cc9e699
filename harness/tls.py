"""TLS settings of a simulated host, and the contexts that enforce them.

A server's settings say which protocol versions it speaks, which TLS 1.2
suites it offers, at which OpenSSL security level, and which certificate it
presents for which SNI name. The strict client's settings are Microsoft's
published requirements for Exchange Online.

Microsoft's TLS 1.2 suites for Exchange Online (Microsoft Learn,
"Technical reference details about encryption", Exchange Online section):
ECDHE-RSA with AES-256-GCM-SHA384, AES-128-GCM-SHA256, AES-256-CBC-SHA384,
AES-128-CBC-SHA256, AES-256-CBC-SHA, AES-128-CBC-SHA, and static RSA with
AES-256-GCM-SHA384 and AES-128-GCM-SHA256. No DHE, no ChaCha20, no ECDSA.
"""

from __future__ import annotations

import enum
import functools
import ssl
import threading
import warnings
from dataclasses import dataclass

from .errors import ConfigurationError

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

if TYPE_CHECKING:
    from pathlib import Path

MICROSOFT_TLS12_CIPHERS = ":".join([
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
])


class Version(str, enum.Enum):
    """Protocol versions as scenario files name them, oldest first."""

    SSL3 = "SSLv3"  # only the tlslite engine speaks it, because OpenSSL 3 has it compiled out
    TLS1_0 = "TLSv1"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"
    TLS1_3 = "TLSv1.3"

    @property
    def ssl_version(self) -> ssl.TLSVersion:
        return {
            Version.SSL3: ssl.TLSVersion.SSLv3,
            Version.TLS1_0: ssl.TLSVersion.TLSv1,
            Version.TLS1_1: ssl.TLSVersion.TLSv1_1,
            Version.TLS1_2: ssl.TLSVersion.TLSv1_2,
            Version.TLS1_3: ssl.TLSVersion.TLSv1_3,
        }[self]


class Engine(str, enum.Enum):
    """The TLS implementation behind a simulated server.

    ``openssl`` is Python's ssl module under aiosmtpd. ``tlslite`` is
    tlslite-ng, a pure-Python TLS stack that still speaks SSLv3, RC4 and 3DES,
    which current OpenSSL builds no longer negotiate (see ``legacyserver``).
    """

    OPENSSL = "openssl"
    TLSLITE = "tlslite"


# Published finite-field Diffie-Hellman groups shipped as PEM files in
# harness/dhgroups/. They are never generated at run time: generation is slow,
# and a published group is what real servers were configured with.
DH_GROUPS = {
    # RFC 2409 section 6.2, the Second Oakley Group: a 1024-bit safe prime, g = 2.
    "rfc2409-group2": "rfc2409-group2.pem",
    # RFC 7919 appendix A.1, ffdhe2048: the 2048-bit group TLS clients recognise by name.
    "ffdhe2048": "rfc7919-ffdhe2048.pem",
}


def dh_group_file(name: str) -> Path:
    """Return the PEM file of a published DH group named in ``DH_GROUPS``."""
    if name not in DH_GROUPS:
        raise ConfigurationError(f"unknown DH group {name!r}; use one of {', '.join(DH_GROUPS)}")
    from pathlib import Path  # here, so that a cold probe does not import pathlib

    return Path(__file__).resolve().parent / "dhgroups" / DH_GROUPS[name]


@dataclass(frozen=True)
class TLSSettings:
    """A server's TLS parameters.

    ``ciphers`` is an OpenSSL cipher string for TLS 1.2 and below; it does not
    touch TLS 1.3 suites, so a weak-cipher server must also set
    ``max_version`` to TLS 1.2. ``security_level`` is OpenSSL's @SECLEVEL:
    OpenSSL 3 refuses TLS 1.0/1.1 (their SHA-1 signatures), RSA-1024 and
    SHA-1 certificates above level 0, so servers that reproduce those need 0.

    ``engine`` picks the TLS implementation. With ``tlslite``, ``ciphers`` is
    a colon-separated list of tlslite-ng cipher names (``rc4``, ``3des``,
    ``aes128``, ``aes128gcm``, ...) or ``DEFAULT``. ``dh_group`` names a
    published group from ``DH_GROUPS`` for DHE suites (OpenSSL engine only).
    """

    min_version: Version = Version.TLS1_2
    max_version: Version = Version.TLS1_3
    ciphers: str = "DEFAULT"
    security_level: int | None = None
    engine: Engine = Engine.OPENSSL
    dh_group: str | None = None

    def __post_init__(self) -> None:
        order = list(Version)
        if order.index(self.min_version) > order.index(self.max_version):
            raise ConfigurationError(
                f"TLS min_version {self.min_version.value} is above max_version {self.max_version.value}"
            )
        if self.engine is Engine.OPENSSL and self.min_version is Version.SSL3:
            raise ConfigurationError("OpenSSL 3 cannot speak SSLv3; set engine = \"tlslite\" to reproduce it")
        if self.dh_group is not None:
            dh_group_file(self.dh_group)
            if self.engine is not Engine.OPENSSL:
                raise ConfigurationError("dh_group works with engine = \"openssl\" only")
        if self.engine is Engine.TLSLITE:
            _check_tlslite_settings(self)

    @property
    def legacy(self) -> bool:
        return self.min_version in (Version.SSL3, Version.TLS1_0, Version.TLS1_1)


# Setting TLS 1.0 or 1.1 on a context raises a DeprecationWarning in Python
# 3.10+. Reproducing old servers is this harness's purpose, so the warning is
# silenced where the setting is made; the lock keeps catch_warnings (which
# changes process-wide state) from racing between threads.
_legacy_lock = threading.Lock()


def _set_versions(context: ssl.SSLContext, low: Version, high: Version) -> None:
    with _legacy_lock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"ssl\.TLSVersion\.TLSv1")
        context.minimum_version = low.ssl_version
        context.maximum_version = high.ssl_version


def _check_tlslite_settings(settings: TLSSettings) -> None:
    # Imported here so that a plain OpenSSL run never loads tlslite-ng.
    from .tlslite_import import tlslite_cipher_names_known

    ALL_CIPHER_NAMES = tlslite_cipher_names_known()
    unknown = [name for name in tlslite_cipher_names(settings.ciphers) if name not in ALL_CIPHER_NAMES]
    if unknown:
        raise ConfigurationError(
            f"tlslite-ng knows no cipher {unknown[0]!r}; use DEFAULT or names from {', '.join(ALL_CIPHER_NAMES)}"
        )
    if settings.security_level is not None:
        raise ConfigurationError("security_level is an OpenSSL setting; remove it when engine = \"tlslite\"")


def tlslite_cipher_names(ciphers: str) -> list[str]:
    """Split a tlslite cipher list; ``DEFAULT`` gives an empty list, meaning tlslite's defaults."""
    if ciphers.strip().upper() == "DEFAULT":
        return []
    return [name.strip() for name in ciphers.split(":") if name.strip()]


def server_context(settings: TLSSettings, certfile: str, keyfile: str) -> ssl.SSLContext:
    """Build a server context that presents one certificate chain with the given settings."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _set_versions(context, settings.min_version, settings.max_version)
    cipher_string = settings.ciphers
    if settings.security_level is not None:
        cipher_string += f":@SECLEVEL={settings.security_level}"
    try:
        context.set_ciphers(cipher_string)
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"OpenSSL ({ssl.OPENSSL_VERSION}) accepts no cipher in {settings.ciphers!r}: {error}"
        ) from error
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"OpenSSL rejected the certificate {certfile}: {error.reason or error}; a weak key or "
            "SHA-1 signature needs security_level = 0"
        ) from error
    if settings.dh_group is not None:
        _load_dh_group(context, settings.dh_group)
    return context


def _load_dh_group(context: ssl.SSLContext, name: str) -> None:
    # Without DH parameters OpenSSL offers no DHE suite at all. OpenSSL 3
    # refuses a group smaller than the security level allows (1024 bits
    # needs security_level 1 or lower) with "dh key too small".
    try:
        context.load_dh_params(str(dh_group_file(name)))
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"OpenSSL rejected DH group {name!r}: {error.reason or error}; a 1024-bit group needs "
            "security_level = 1 or lower"
        ) from error


def strict_client_context(cafile: str) -> ssl.SSLContext:
    """Build the context of a sender that enforces TLS like Exchange Online with forced TLS.

    It trusts the simulated public roots only (never the system store),
    speaks TLS 1.2 and 1.3, offers Microsoft's TLS 1.2 suites, checks the
    name against subjectAltName only and sends SNI.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=cafile)
    return _strict_settings(context)


def _strict_settings(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    # Security level 2 (112-bit security) refuses RSA keys under 2048 bits
    # (verify code 66) and SHA-1 signatures (68). Setting it here keeps that
    # independent of the Python build's default and of openssl.cnf.
    context.set_ciphers(MICROSOFT_TLS12_CIPHERS + ":@SECLEVEL=2")
    context.check_hostname = True
    # Python 3.11 still falls back to the common name when a leaf has no
    # subjectAltName; RFC 6125 section 6.4.4 and every current MTA do not.
    context.hostname_checks_common_name = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def opportunistic_client_context() -> ssl.SSLContext:
    """Build the context of an MTA with default opportunistic TLS (Postfix level "may").

    It encrypts whenever the server offers STARTTLS but verifies nothing: a
    self-signed or expired certificate still carries the message, over a
    channel an active attacker could intercept.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def shared_client_context(cafile: str | None, verify: bool) -> ssl.SSLContext:
    """Return a client context shared by every client with the same trust anchors and profile.

    Building an SSLContext costs about a third of a millisecond with OpenSSL
    3.0, a tenth of a whole session on loopback. A context is safe to share
    between threads once configured, as MTAs share theirs between deliveries;
    callers must not change it.
    The cache is keyed by the CA file's content, not its path, so a new lab
    whose temporary folder reuses an old name never meets a stale trust store.
    """
    if not verify:
        return _opportunistic_shared()
    assert cafile is not None, "a verifying context needs the CA file"
    with open(cafile, "rb") as handle:
        return _strict_shared(handle.read())


@functools.lru_cache(maxsize=8)
def _strict_shared(cadata: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=cadata.decode("ascii"))
    return _strict_settings(context)


@functools.lru_cache(maxsize=1)
def _opportunistic_shared() -> ssl.SSLContext:
    return opportunistic_client_context()
