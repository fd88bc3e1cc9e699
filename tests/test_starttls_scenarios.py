"""STARTTLS, second-MX and trust-contrast scenarios: each broken variant fails exactly, each fix delivers."""

from __future__ import annotations

import io
import subprocess

import pytest

from harness import timeouts
from harness.cli import print_serve_banner
from harness.client import ClientSettings
from harness.outcome import FailureClass, Stage, Trust
from harness.smtpserver import INJECTED_REPLY

C = FailureClass

BROKEN = [
    # slug, class, reason, stage, reply code
    ("starttls-not-advertised", C.STARTTLS_NOT_SUPPORTED, "not-advertised", Stage.EHLO, 250),
    ("starttls-refused", C.STARTTLS_NOT_SUPPORTED, "refused", Stage.STARTTLS, 454),
    ("starttls-hangs", C.STARTTLS_NOT_SUPPORTED, "handshake-timeout", Stage.HANDSHAKE, None),
    ("implicit-tls-on-submission-port", C.VALIDATION_FAILURE, "not-tls", Stage.HANDSHAKE, None),
    ("plaintext-on-implicit-tls-port", C.PROTOCOL_ERROR, "reply-timeout", Stage.BANNER, None),
    ("starttls-injection", C.VALIDATION_FAILURE, "starttls-injection", Stage.STARTTLS, 220),
    ("second-mx-wrong-cert", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, None),
]


@pytest.mark.parametrize("slug, failure_class, reason, stage, reply_code", BROKEN)
def test_broken_variant_fails_exactly(scenario_host, slug, failure_class, reason, stage, reply_code):
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.failure_class is failure_class
    assert outcome.reason == reason
    assert outcome.stage is stage
    assert (outcome.reply.code if outcome.reply else None) == reply_code
    assert outcome.alert is None
    assert not outcome.delivered


@pytest.mark.parametrize("slug", [case[0] for case in BROKEN])
def test_fixed_variant_delivers_verified(scenario_host, slug):
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.reason == ""
    assert outcome.trust is Trust.VERIFIED
    assert outcome.protocol in ("TLSv1.2", "TLSv1.3")
    assert outcome.reply is not None and outcome.reply.code == 250


def test_refused_reply_is_454(scenario_host):
    outcome = scenario_host("starttls-refused", "broken").deliver()

    assert outcome.reply is not None
    assert outcome.reply.code == 454
    assert outcome.transcript[-1].startswith("S: 454 4.7.0 ")


def test_hang_ends_within_handshake_timeout(scenario_host):
    host = scenario_host("starttls-hangs", "broken")
    timeout = host.variant.client.handshake_timeout

    outcome = host.deliver()

    assert timeout is not None and timeout < 1.0
    assert outcome.reason == "handshake-timeout"
    assert outcome.duration_s >= timeout
    assert outcome.duration_s < timeout + 2.0


def test_banner_wait_ends_within_reply_timeout(scenario_host):
    host = scenario_host("plaintext-on-implicit-tls-port", "broken")
    timeout = host.variant.client.reply_timeout

    outcome = host.deliver()

    assert timeout is not None and timeout < 1.0
    assert outcome.duration_s >= timeout
    assert outcome.duration_s < timeout + 2.0
    assert [line for line in outcome.transcript if line.startswith("S: ")] == []


def test_implicit_tls_reads_banner_as_record(scenario_host):
    outcome = scenario_host("implicit-tls-on-submission-port", "broken").deliver()

    assert "WRONG_VERSION_NUMBER" in outcome.error
    assert outcome.verify_code is None
    assert outcome.trust is Trust.NONE


def test_implicit_tls_server_handshakes_before_banner(scenario_host):
    outcome = scenario_host("plaintext-on-implicit-tls-port", "fixed").deliver()

    commands = [line for line in outcome.transcript if line.startswith("C: ")]
    assert outcome.transcript[1] == "-- implicit TLS: handshaking before the banner"
    assert "C: STARTTLS" not in commands
    assert outcome.delivered


def test_injection_detected_before_handshake(scenario_host):
    outcome = scenario_host("starttls-injection", "broken").deliver()

    server_lines = [line for line in outcome.transcript if line.startswith("S: ")]
    assert server_lines[-1].startswith("S: 220 2.0.0 ")
    assert outcome.protocol is None
    assert outcome.error.startswith(f"{len(INJECTED_REPLY) + 2} bytes of plaintext")


@pytest.mark.parametrize("profile", ["strict", "opportunistic"])
def test_injection_stops_both_profiles(scenario_host, profile):
    outcome = scenario_host("starttls-injection", "broken").deliver(profile=profile)

    assert outcome.failure_class is C.VALIDATION_FAILURE
    assert outcome.reason == "starttls-injection"


@pytest.mark.parametrize("slug", ["starttls-not-advertised", "starttls-refused"])
def test_opportunistic_falls_back_to_plaintext(scenario_host, slug):
    outcome = scenario_host(slug, "broken").deliver(profile="opportunistic")

    assert outcome.failure_class is C.DELIVERED
    assert outcome.reason == "plaintext"
    assert outcome.trust is Trust.NONE
    assert outcome.protocol is None


def test_second_mx_outcome_names_failed_host(scenario_host):
    host = scenario_host("second-mx-wrong-cert", "broken")

    outcome = host.deliver()

    assert outcome.mx_host == host.second_mx
    assert outcome.verify_code == 62
    assert [attempt.mx_host for attempt in outcome.attempts] == [host.second_mx]


def test_second_mx_fallback_delivers_on_first_mx(scenario_host):
    host = scenario_host("second-mx-wrong-cert", "broken")

    outcome = host.client(settings=ClientSettings()).deliver(host.recipient)

    assert outcome.delivered
    assert outcome.mx_host == host.mx
    assert [(attempt.mx_host, attempt.failure_class) for attempt in outcome.attempts] == [
        (host.second_mx, C.CERTIFICATE_HOST_MISMATCH),
        (host.mx, C.DELIVERED),
    ]
    assert outcome.attempts[0].verify_code == 62


def test_second_mx_fixed_delivers_on_second_mx(scenario_host):
    host = scenario_host("second-mx-wrong-cert", "fixed")

    outcome = host.deliver()

    assert outcome.delivered
    assert outcome.mx_host == host.second_mx


CONTRAST = [
    # slug, verify code the strict sender gets from the broken host
    ("opportunistic-self-signed", 18),
    ("opportunistic-expired", 10),
]


@pytest.mark.parametrize("slug, verify_code", CONTRAST)
def test_opportunistic_delivers_untrusted(scenario_host, slug, verify_code):
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.failure_class is C.DELIVERED
    assert outcome.reason == "untrusted-tls"
    assert outcome.trust is Trust.UNTRUSTED
    assert outcome.profile == "opportunistic"
    assert outcome.verify_code is None


@pytest.mark.parametrize("slug, verify_code", CONTRAST)
def test_strict_sender_refuses_contrast_host(scenario_host, slug, verify_code):
    outcome = scenario_host(slug, "broken").deliver(profile="strict")

    assert not outcome.delivered
    assert outcome.verify_code == verify_code
    assert outcome.stage is Stage.CERTIFICATE


@pytest.mark.parametrize("slug", [case[0] for case in CONTRAST])
def test_contrast_fix_delivers_verified_strict(scenario_host, slug):
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.failure_class is C.DELIVERED
    assert outcome.profile == "strict"
    assert outcome.trust is Trust.VERIFIED


def test_serve_banner_for_implicit_tls(smtp_lab, scenario_host):
    host = scenario_host("plaintext-on-implicit-tls-port", "broken")
    out = io.StringIO()

    print_serve_banner(host.scenario, "broken", smtp_lab, host, out)

    text = out.getvalue()
    assert f"port {host.address.port} (implicit TLS, no STARTTLS)" in text
    assert f"openssl s_client -connect {host.address.address}:{host.address.port} " in text
    assert "-starttls" not in text
    assert "--tls-on-connect" in text


def test_serve_banner_lists_second_mx(smtp_lab, scenario_host):
    host = scenario_host("second-mx-wrong-cert", "broken")
    out = io.StringIO()

    print_serve_banner(host.scenario, "broken", smtp_lab, host, out)

    assert host.second_server is not None
    assert f"second MX     {host.second_mx} at {host.second_server.address} " in out.getvalue()


def _s_client(openssl_binary: str, host, *options: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    where = host.address
    command = [openssl_binary, "s_client", *options, "-connect", f"{where.address}:{where.port}",
               "-servername", where.mx, "-CAfile", host.cafile, "-verify_return_error",
               "-verify_hostname", where.mx, "-brief", "-ign_eof"]
    return subprocess.run(command, input=b"QUIT\r\n", capture_output=True, timeout=timeouts.TOOL_TIMEOUT)


@pytest.mark.thirdparty
def test_s_client_implicit_tls_reads_banner(openssl_binary, scenario_host):
    host = scenario_host("plaintext-on-implicit-tls-port", "broken")

    done = _s_client(openssl_binary, host)

    assert done.returncode == 0
    assert b"Verification: OK" in done.stderr
    assert done.stdout.startswith(f"220 {host.mx} ".encode())


@pytest.mark.thirdparty
def test_s_client_without_starttls_gets_wrong_version(openssl_binary, scenario_host):
    host = scenario_host("implicit-tls-on-submission-port", "broken")

    done = _s_client(openssl_binary, host)

    assert done.returncode != 0
    assert b"wrong version number" in done.stderr


def test_json_outcome_lists_attempts(scenario_host):
    host = scenario_host("second-mx-wrong-cert", "broken")

    data = host.client(settings=ClientSettings()).deliver(host.recipient).to_dict()

    assert [(entry["mx_host"], entry["class"], entry["verify_code"]) for entry in data["attempts"]] == [
        (host.second_mx, "certificate-host-mismatch", 62),
        (host.mx, "delivered", None),
    ]
