"""Protocol, cipher-suite and key-exchange scenarios: each broken variant fails exactly, each fix delivers.

The SSLv3, RC4 and 3DES servers run on tlslite-ng because OpenSSL 3 cannot
play them. The tests also check that those servers really negotiate the
legacy protocol or suite when a client asks for it. A "no shared cipher"
result is then the server's choice, not a broken server.
"""

from __future__ import annotations

import ssl

import pytest

from harness import capabilities
from harness.outcome import FailureClass, Stage, Trust
from harness.tls import MICROSOFT_TLS12_CIPHERS
from harness.tlslite_import import tlslite_api

from .conftest import starttls_socket

BROKEN = [
    # slug, class, reason, alert, server-side reason
    ("tls11-only", FailureClass.VALIDATION_FAILURE, "protocol-version", "protocol_version", "UNSUPPORTED_PROTOCOL"),
    ("sslv3-only", FailureClass.VALIDATION_FAILURE, "protocol-version", "protocol_version", "protocol_version"),
    ("tls12-weak-ciphers-only", FailureClass.VALIDATION_FAILURE, "no-shared-cipher", "handshake_failure",
     "NO_SHARED_CIPHER"),
    ("rc4-only", FailureClass.VALIDATION_FAILURE, "no-shared-cipher", "handshake_failure", "handshake_failure"),
    ("3des-only", FailureClass.VALIDATION_FAILURE, "no-shared-cipher", "handshake_failure", "handshake_failure"),
    ("static-rsa-only", FailureClass.VALIDATION_FAILURE, "no-shared-cipher", "handshake_failure", "NO_SHARED_CIPHER"),
    ("dh1024", FailureClass.VALIDATION_FAILURE, "no-shared-cipher", "handshake_failure", "NO_SHARED_CIPHER"),
]
SLUGS = [case[0] for case in BROKEN]


@pytest.mark.parametrize("slug, failure_class, reason, alert, server_reason", BROKEN)
def test_broken_variant_fails_exactly(scenario_host, slug, failure_class, reason, alert, server_reason):
    host = scenario_host(slug, "broken")

    outcome = host.deliver()

    assert outcome.failure_class is failure_class
    assert outcome.reason == reason
    assert outcome.alert == alert
    assert outcome.stage is Stage.HANDSHAKE
    assert outcome.verify_code is None
    assert outcome.protocol is None
    failures = host.server.wait_for_event("tls-failed")
    assert [event.reason for event in failures] == [server_reason]


@pytest.mark.parametrize("slug", SLUGS)
def test_fixed_variant_delivers_verified(scenario_host, slug):
    host = scenario_host(slug, "fixed")

    outcome = host.deliver()

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.trust is Trust.VERIFIED
    assert outcome.protocol in ("TLSv1.2", "TLSv1.3")
    assert outcome.reply is not None and outcome.reply.code == 250
    assert host.server.wait_for_event("message")[0].peer.startswith("127.")
    assert [event.kind for event in host.server.events] == ["tls-established", "message"]


@pytest.mark.parametrize("slug", ["tls12-weak-ciphers-only", "rc4-only", "3des-only", "static-rsa-only"])
def test_fixed_suites_alone_fix_tls12(scenario_host, slug):
    # These fixes keep TLS 1.2 as the maximum, so delivery proves the suite change is enough.
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.protocol == "TLSv1.2"
    assert outcome.cipher.startswith("ECDHE-RSA-AES")
    assert outcome.cipher in MICROSOFT_TLS12_CIPHERS.split(":")


@pytest.mark.parametrize("slug", SLUGS)
def test_opportunistic_sender_still_fails(scenario_host, slug):
    # Verifying nothing does not help when no version or suite is shared.
    outcome = scenario_host(slug, "broken").deliver(profile="opportunistic")

    assert outcome.failure_class is FailureClass.VALIDATION_FAILURE
    assert outcome.stage is Stage.HANDSHAKE


def _tlslite_client(host, settings):  # type: ignore[no-untyped-def]
    connection = tlslite_api().TLSConnection(starttls_socket(host.address.address, host.address.port))
    connection.handshakeClientCert(settings=settings, serverName=host.mx)
    return connection


@pytest.mark.parametrize("slug, cipher", [("rc4-only", "rc4"), ("3des-only", "3des")])
def test_legacy_server_negotiates_its_cipher(scenario_host, slug, cipher):
    settings = tlslite_api().HandshakeSettings()
    settings.cipherNames = [cipher]
    settings.maxVersion = (3, 3)

    connection = _tlslite_client(scenario_host(slug, "broken"), settings)
    try:
        assert connection.getCipherName() == cipher
        assert connection.version == (3, 3)
    finally:
        connection.close()


def test_sslv3_server_negotiates_sslv3(scenario_host):
    settings = tlslite_api().HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 0)
    settings.versions = [(3, 0)]
    settings.cipherNames = ["aes128"]

    connection = _tlslite_client(scenario_host("sslv3-only", "broken"), settings)
    try:
        assert connection.version == (3, 0)
    finally:
        connection.close()


def test_dh1024_default_python_client_rejects_group(scenario_host):
    # Python's default client offers DHE, receives the 1024-bit group and
    # stops itself: OpenSSL 3 at security level 2 wants 2048 bits.
    host = scenario_host("dh1024", "broken")
    context = ssl.create_default_context(cafile=host.cafile)
    sock = starttls_socket(host.address.address, host.address.port)

    with pytest.raises(ssl.SSLError) as caught:
        context.wrap_socket(sock, server_hostname=host.mx)

    assert caught.value.reason == "DH_KEY_TOO_SMALL"


def test_dh1024_fixed_keeps_dhe_with_ffdhe2048(scenario_host):
    host = scenario_host("dh1024", "fixed")
    context = ssl.create_default_context(cafile=host.cafile)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("DHE-RSA-AES256-GCM-SHA384")
    sock = starttls_socket(host.address.address, host.address.port)

    with context.wrap_socket(sock, server_hostname=host.mx) as tls:
        assert tls.cipher()[0] == "DHE-RSA-AES256-GCM-SHA384"


@pytest.mark.parametrize("requirement", ["tlslite", "dh1024"])
def test_capability_probe_passes_here(smtp_lab, requirement):
    # Both work on the OpenSSL 3.0 and Python 3.11 this suite targets; a
    # machine without them skips the scenarios with the probe's reason.
    assert capabilities.missing(requirement, smtp_lab.pki) is None


def test_handshake_probe_reports_the_client_error():
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE

    error = capabilities._handshake_error(server, client)

    # The server has no certificate, so it finds no suite to offer.
    assert isinstance(error, ssl.SSLError)
    assert error.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
