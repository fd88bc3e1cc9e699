"""The four core scenarios: each broken variant fails with its exact class and code, each fix delivers."""

from __future__ import annotations

import pytest

from harness.outcome import FailureClass, Stage, Trust

BROKEN = [
    # slug, class, reason, stage, verify code, alert
    ("self-signed", FailureClass.CERTIFICATE_NOT_TRUSTED, "self-signed", Stage.CERTIFICATE, 18, None),
    ("no-sni", FailureClass.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, 62, None),
    ("revoked", FailureClass.VALIDATION_FAILURE, "certificate-revoked", Stage.REVOCATION, 23, None),
    ("tls10-only", FailureClass.VALIDATION_FAILURE, "protocol-version", Stage.HANDSHAKE, None, "protocol_version"),
]


@pytest.mark.parametrize("slug, failure_class, reason, stage, verify_code, alert", BROKEN)
def test_broken_variant_fails_exactly(scenario_host, slug, failure_class, reason, stage, verify_code, alert):
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.failure_class is failure_class
    assert outcome.reason == reason
    assert outcome.stage is stage
    assert outcome.verify_code == verify_code
    assert outcome.alert == alert
    assert not outcome.delivered


@pytest.mark.parametrize("slug", [case[0] for case in BROKEN])
def test_fixed_variant_delivers_verified(scenario_host, slug):
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.trust is Trust.VERIFIED
    assert outcome.protocol in ("TLSv1.2", "TLSv1.3")
    assert outcome.reply is not None and outcome.reply.code == 250


@pytest.mark.parametrize("slug", ["self-signed", "revoked", "no-sni"])
def test_opportunistic_sender_delivers_untrusted(scenario_host, slug):
    outcome = scenario_host(slug, "broken").deliver(profile="opportunistic")

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.trust is Trust.UNTRUSTED


def test_opportunistic_sender_still_fails_tls10(scenario_host):
    # Encrypting without verification does not help when no version is shared.
    outcome = scenario_host("tls10-only", "broken").deliver(profile="opportunistic")

    assert outcome.failure_class is FailureClass.VALIDATION_FAILURE
    assert outcome.alert == "protocol_version"


def test_server_logs_real_tls_error(scenario_host):
    host = scenario_host("tls10-only", "broken")
    host.deliver()

    failures = host.server.wait_for_event("tls-failed")
    assert [event.reason for event in failures] == ["UNSUPPORTED_PROTOCOL"]
    assert failures[0].peer.startswith("127.")


def test_transcript_shows_dialogue(scenario_host):
    outcome = scenario_host("self-signed", "broken").deliver()

    commands = [line for line in outcome.transcript if line.startswith("C: ")]
    assert commands == ["C: EHLO outbound.harness.test", "C: STARTTLS"]
    assert outcome.transcript[1].startswith("S: 220 ")
