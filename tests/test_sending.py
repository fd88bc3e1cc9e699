"""The sending direction: the admin's MTA against the Outlook.com-like strict receiver.

Each broken variant is rejected for its exact reason and reply code, and its
fixed variant, right beside it, delivers.
"""

from __future__ import annotations

import pytest

from harness.capabilities import _ipv6_reason
from harness.outcome import FailureClass, Stage
from harness.receiver import dnsbl_query_name
from harness.sender import SendingHost

C = FailureClass

BROKEN = [
    # slug, class, reason, stage, reply code, enhanced status, alert
    ("sender-no-starttls", C.SMTP_REJECTED, "starttls-required", Stage.MAIL, 451, "5.7.3", None),
    ("ptr-missing", C.SMTP_REJECTED, "ptr-missing", Stage.MAIL, 550, "5.7.25", None),
    ("ptr-not-forward-confirmed", C.SMTP_REJECTED, "ptr-not-forward-confirmed", Stage.MAIL, 550, "5.7.25", None),
    ("ipv6-ptr-missing", C.SMTP_REJECTED, "ipv6-ptr-missing", Stage.MAIL, 550, "5.7.25", None),
    ("dnsbl-listed", C.SMTP_REJECTED, "dnsbl-listed", Stage.RCPT, 550, "5.7.1", None),
    ("dnsbl-lookup-refused", C.SMTP_REJECTED, "dnsbl-lookup-error", Stage.RCPT, 451, "4.4.3", None),
    ("sender-tls10-only", C.VALIDATION_FAILURE, "protocol-version", Stage.HANDSHAKE, None, None, "protocol_version"),
    ("sender-no-shared-cipher", C.VALIDATION_FAILURE, "no-shared-cipher", Stage.HANDSHAKE, None, None,
     "handshake_failure"),
]


def _needs_machine(slug: str) -> None:
    if slug.startswith("ipv6-") and _ipv6_reason():
        pytest.skip(_ipv6_reason())


@pytest.mark.parametrize("slug, failure_class, reason, stage, reply_code, status, alert", BROKEN)
def test_broken_sender_rejected_exactly(scenario_host, slug, failure_class, reason, stage, reply_code, status,
                                          alert):
    _needs_machine(slug)
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.failure_class is failure_class
    assert outcome.reason == reason
    assert outcome.stage is stage
    assert (outcome.reply.code if outcome.reply else None) == reply_code
    assert (outcome.reply.enhanced_status if outcome.reply else None) == status
    assert outcome.alert == alert


@pytest.mark.parametrize("slug", [case[0] for case in BROKEN])
def test_fixed_sender_delivers_over_tls(scenario_host, slug):
    _needs_machine(slug)
    host = scenario_host(slug, "fixed")
    outcome = host.deliver()

    assert outcome.failure_class is C.DELIVERED
    assert outcome.protocol in ("TLSv1.2", "TLSv1.3")
    assert outcome.reply is not None
    assert outcome.reply.code == 250
    assert [event.kind for event in host.server.events] == ["tls-established", "message"]


def test_plugin_fixture_starts_sending_host(mx_ptr_missing):
    outcome = mx_ptr_missing.deliver()

    assert isinstance(mx_ptr_missing, SendingHost)
    assert outcome.reason == "ptr-missing"


def test_receiver_sees_the_senders_source_address(scenario_host):
    host = scenario_host("ptr-missing", "broken")
    outcome = host.deliver()

    assert host.source_address.startswith("127.")
    assert host.source_address != host.address.address
    assert host.server.rejection(host.source_address).reason == "ptr-missing"
    assert f"S: 250-{host.mx} Hello [{host.source_address}]" in outcome.transcript


def test_receiver_speaks_microsofts_dialogue(scenario_host):
    host = scenario_host("sender-no-starttls", "fixed")
    outcome = host.deliver()

    server_lines = [line[3:] for line in outcome.transcript if line.startswith("S: ")]
    assert server_lines[0].startswith(f"220 {host.mx} Microsoft ESMTP MAIL Service ready at ")
    assert server_lines[1:8] == [f"250-{host.mx} Hello [{host.source_address}]", "250-SIZE 157286400",
                                 "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-8BITMIME",
                                 "250 SMTPUTF8"]
    assert "220 2.0.0 SMTP server ready" in server_lines
    assert "250-STARTTLS" not in server_lines[9:]  # not offered again inside TLS


@pytest.mark.parametrize("slug, openssl_reason", [("sender-tls10-only", "UNSUPPORTED_PROTOCOL"),
                                                  ("sender-no-shared-cipher", "NO_SHARED_CIPHER")])
def test_receiver_logs_handshake_failure_reason(scenario_host, slug, openssl_reason):
    host = scenario_host(slug, "broken")
    host.deliver()

    failures = [event for event in host.server.events if event.kind == "tls-failed"]
    assert [(event.peer, event.reason) for event in failures] == [(host.source_address, openssl_reason)]


def test_lookup_error_is_not_a_listing(scenario_host):
    # A 127.255.255.x answer means the list refused the query: a 4xx deferral, never a 5xx rejection.
    refused = scenario_host("dnsbl-lookup-refused", "broken").deliver()
    listed = scenario_host("dnsbl-listed", "broken").deliver()

    assert refused.reason == "dnsbl-lookup-error"
    assert refused.reply.code == 451
    assert listed.reason == "dnsbl-listed"
    assert listed.reply.code == 550


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.2", "2.0.0.127.bl.test"),
    ("::1", "1." + "0." * 31 + "bl.test"),
])
def test_dnsbl_query_name_follows_rfc_5782(address, expected):
    assert dnsbl_query_name(address, "bl.test") == expected
