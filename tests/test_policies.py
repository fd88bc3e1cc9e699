"""MTA-STS and DANE: each TLS-RPT result type next to its passing control, and the RFC rules behind them."""

from __future__ import annotations

import dataclasses

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from harness.dane import DaneSpec, DnssecStatus, Tlsa, TlsaSource, TlsaSpec
from harness.dns import DnsServer, Record, Zone
from harness.mtasts import Fetch, Mode, PolicyError, mx_matches, parse_policy, parse_txt
from harness.outcome import FailureClass, Stage, Trust
from harness.pki import KeyKind
from harness.policy import PolicyType

C = FailureClass

# slug, class, reason, stage, verify code, reported result type, policy type
REFUSED = [
    ("sts-starttls-not-supported", C.STARTTLS_NOT_SUPPORTED, "not-advertised", Stage.EHLO, None, PolicyType.STS),
    ("sts-certificate-host-mismatch", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, 62,
     PolicyType.STS),
    ("sts-certificate-expired", C.CERTIFICATE_EXPIRED, "expired", Stage.CERTIFICATE, 10, PolicyType.STS),
    ("sts-certificate-not-trusted", C.CERTIFICATE_NOT_TRUSTED, "self-signed", Stage.CERTIFICATE, 18, PolicyType.STS),
    ("sts-validation-failure", C.VALIDATION_FAILURE, "key-too-weak", Stage.CERTIFICATE, 66, PolicyType.STS),
    ("sts-mx-not-in-policy", C.VALIDATION_FAILURE, "mx-not-in-policy", Stage.POLICY, None, PolicyType.STS),
    ("dane-tlsa-invalid", C.TLSA_INVALID, "no-matching-tlsa", Stage.CERTIFICATE, None, PolicyType.TLSA),
    ("dane-dnssec-invalid", C.DNSSEC_INVALID, "bogus-tlsa", Stage.POLICY, None, PolicyType.TLSA),
    ("dane-required", C.DANE_REQUIRED, "no-tlsa", Stage.POLICY, None, PolicyType.NONE),
    ("dane-tlsa-rollover", C.TLSA_INVALID, "no-matching-tlsa", Stage.CERTIFICATE, None, PolicyType.TLSA),
]

# slug, reported result type, reason: the policy failed, so the sender delivered as without one
REPORTED_ONLY = [
    ("sts-policy-fetch-error", C.STS_POLICY_FETCH_ERROR, "http-404"),
    ("sts-policy-invalid", C.STS_POLICY_INVALID, "bad-mode"),
    ("sts-webpki-invalid", C.STS_WEBPKI_INVALID, "self-signed"),
    ("sts-testing-mode", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch"),
]


@pytest.mark.parametrize("slug, failure_class, reason, stage, verify_code, policy_type", REFUSED)
def test_policy_refuses_broken_host(scenario_host, slug, failure_class, reason, stage, verify_code, policy_type):
    outcome = scenario_host(slug, "broken").deliver()

    assert not outcome.delivered
    assert (outcome.failure_class, outcome.reason, outcome.stage) == (failure_class, reason, stage)
    assert outcome.verify_code == verify_code
    assert outcome.policy is not None
    assert outcome.policy.result_type is failure_class
    assert outcome.policy.policy_type is policy_type


@pytest.mark.parametrize("slug, result_type, reason", REPORTED_ONLY)
def test_policy_failure_is_reported_while_mail_is_delivered(scenario_host, slug, result_type, reason):
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.delivered
    assert outcome.policy is not None
    assert (outcome.policy.result_type, outcome.policy.reason) == (result_type, reason)
    assert outcome.policy.policy_type is PolicyType.STS
    assert not outcome.policy.enforced


@pytest.mark.parametrize("slug", [case[0] for case in REFUSED + REPORTED_ONLY])
def test_fixed_policy_host_delivers_and_reports_success(scenario_host, slug):
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.failure_class is C.DELIVERED
    assert outcome.trust is Trust.VERIFIED
    assert outcome.policy is not None and outcome.policy.success
    assert outcome.policy.sending_ip is not None and outcome.policy.sending_ip.startswith("127.")
    assert outcome.policy.receiving_ip == outcome.mx_address


def test_testing_mode_delivers_unverified_after_the_failed_check(scenario_host):
    outcome = scenario_host("sts-testing-mode", "broken").deliver()

    assert outcome.trust is Trust.UNTRUSTED
    assert outcome.transcript.count("C: STARTTLS") == 2  # the verifying session, then the delivering one


def test_strict_and_opportunistic_senders_ignore_policies(scenario_host):
    host = scenario_host("sts-policy-fetch-error", "broken")

    strict = host.deliver(profile="strict")
    opportunistic = host.deliver(profile="opportunistic")

    assert strict.delivered and strict.policy is None
    assert opportunistic.delivered and opportunistic.policy is None


def test_strict_sender_still_refuses_a_testing_mode_host(scenario_host):
    outcome = scenario_host("sts-testing-mode", "broken").deliver(profile="strict")

    assert outcome.failure_class is C.CERTIFICATE_HOST_MISMATCH
    assert outcome.policy is None


# DANE rules, on variants derived from the catalog's DANE scenarios

def _variant(smtp_lab, smtp_catalog, slug: str, **changes):
    scenario = smtp_catalog.get(slug)
    return scenario, dataclasses.replace(scenario.fixed, **changes)


def _deliver(smtp_lab, scenario, variant):
    with smtp_lab.host(scenario, variant) as host:
        return host.deliver()


def test_rollover_completes_with_only_the_new_key(smtp_lab, smtp_catalog):
    new_only = DaneSpec((TlsaSpec(3, 1, 1, of=None, key=KeyKind.RSA2048),), DnssecStatus.SECURE)
    scenario, variant = _variant(smtp_lab, smtp_catalog, "dane-tlsa-rollover", dane=new_only)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered and outcome.policy.success
    assert len(outcome.policy.policy_strings) == 1


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("matching", [0, 1, 2])
def test_dane_ee_matches_every_selector_and_matching_type(smtp_lab, smtp_catalog, selector, matching):
    spec = DaneSpec((TlsaSpec(3, selector, matching, of=TlsaSource.LEAF),))
    scenario, variant = _variant(smtp_lab, smtp_catalog, "dane-tlsa-invalid", dane=spec)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered
    assert outcome.policy.policy_type is PolicyType.TLSA and outcome.policy.success


def test_dane_ee_ignores_names_and_dates(smtp_lab, smtp_catalog):
    scenario = smtp_catalog.get("dane-tlsa-invalid")
    leaf = dataclasses.replace(scenario.fixed.certificate, names=("wrong.invalid.test",),
                               not_before_days=-90, not_after_days=-1)
    variant = dataclasses.replace(scenario.fixed, certificate=leaf)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered
    assert outcome.trust is Trust.VERIFIED


@pytest.mark.parametrize("names, before, after, failure_class, delivered", [
    (("{mx}",), -45, 45, C.DELIVERED, True),
    (("{mx}",), -90, -1, C.CERTIFICATE_EXPIRED, False),
    (("wrong.invalid.test",), -45, 45, C.CERTIFICATE_HOST_MISMATCH, False),
])
def test_dane_ta_checks_names_and_dates(smtp_lab, smtp_catalog, names, before, after, failure_class, delivered):
    scenario = smtp_catalog.get("dane-tlsa-invalid")
    leaf = dataclasses.replace(scenario.fixed.certificate, names=names, not_before_days=before,
                               not_after_days=after)
    trust_anchor = DaneSpec((TlsaSpec(2, 0, 1, of=TlsaSource.INTERMEDIATE),))
    variant = dataclasses.replace(scenario.fixed, certificate=leaf, dane=trust_anchor)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.failure_class is failure_class
    assert outcome.delivered is delivered


def test_usable_tlsa_makes_starttls_mandatory(smtp_lab, smtp_catalog):
    from harness.smtpserver import StartTLS

    scenario, variant = _variant(smtp_lab, smtp_catalog, "dane-tlsa-invalid", starttls=StartTLS.NOT_OFFERED)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.failure_class is C.STARTTLS_NOT_SUPPORTED
    assert outcome.policy.result_type is C.STARTTLS_NOT_SUPPORTED


def test_unusable_tlsa_records_mean_encryption_without_authentication(smtp_lab, smtp_catalog):
    pkix_only = DaneSpec((TlsaSpec(1, 1, 1, of=TlsaSource.LEAF),))  # PKIX-EE: unusable for SMTP
    scenario = smtp_catalog.get("dane-tlsa-invalid")
    variant = dataclasses.replace(scenario.fixed, dane=pkix_only,
                                  certificate=dataclasses.replace(scenario.fixed.certificate,
                                                                  names=("wrong.invalid.test",)))

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered
    assert outcome.trust is Trust.UNTRUSTED
    assert outcome.protocol in ("TLSv1.2", "TLSv1.3")


def test_insecure_tlsa_answer_is_ignored(smtp_lab, smtp_catalog):
    scenario = smtp_catalog.get("dane-tlsa-invalid")
    unsigned = dataclasses.replace(scenario.broken.dane, dnssec=DnssecStatus.INSECURE)
    variant = dataclasses.replace(scenario.broken, dane=unsigned)

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered
    assert outcome.policy.policy_type is PolicyType.NONE


@pytest.mark.parametrize("fetch, reason", [
    (Fetch.REDIRECT, "http-301"),
    (Fetch.NO_HOST, "policy-host-not-found"),
    (Fetch.OK, ""),
])
def test_policy_fetch_failures_are_named(smtp_lab, smtp_catalog, fetch, reason):
    scenario = smtp_catalog.get("sts-policy-fetch-error")
    variant = dataclasses.replace(scenario.broken, mta_sts=dataclasses.replace(scenario.broken.mta_sts, fetch=fetch))

    outcome = _deliver(smtp_lab, scenario, variant)

    assert outcome.delivered
    assert outcome.policy.reason == reason
    assert outcome.policy.success is (fetch is Fetch.OK)


# RFC 8461 parsing and matching

GOOD_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmx: *.backup.test\r\nmax_age: 604800\r\n"


def test_policy_parses_with_crlf_and_repeated_mx():
    policy = parse_policy(GOOD_POLICY)

    assert policy.mode is Mode.ENFORCE
    assert policy.max_age == 604800
    assert policy.mx == ("mx.example.test", "*.backup.test")
    assert policy.lines[0] == "version: STSv1"


def test_policy_ignores_unknown_keys_and_allows_none_without_mx():
    policy = parse_policy("version: STSv1\nmode: none\nmax_age: 0\nextension: value\n")

    assert policy.mode is Mode.NONE and policy.mx == ()


@pytest.mark.parametrize("text, reason", [
    (GOOD_POLICY.replace("mode: enforce", "mode: enforcing"), "bad-mode"),
    (GOOD_POLICY.replace("version: STSv1", "version: STSv2"), "bad-version"),
    (GOOD_POLICY.replace("max_age: 604800", "max_age: 1w"), "bad-max-age"),
    (GOOD_POLICY.replace("max_age: 604800", "max_age: 31557601"), "bad-max-age"),
    ("version: STSv1\nmode: enforce\nmax_age: 60\n", "no-mx"),
    ("version: STSv1\nmode: enforce\nmode: testing\nmx: a.test\nmax_age: 60\n", "bad-mode"),
    ("version: STSv1\nthis line has no colon\n", "bad-line"),
])
def test_invalid_policies_are_named(text, reason):
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)

    assert caught.value.failure_class is C.STS_POLICY_INVALID
    assert caught.value.reason == reason


@pytest.mark.parametrize("pattern, host, matches", [
    ("mx.example.test", "mx.example.test", True),
    ("mx.example.test", "MX.Example.Test.", True),
    ("*.example.test", "mx.example.test", True),
    ("*.example.test", "example.test", False),
    ("*.example.test", "a.mx.example.test", False),
    ("mx.example.test", "mx2.example.test", False),
])
def test_mx_pattern_matching_follows_section_4_1(pattern, host, matches):
    assert mx_matches(pattern, host) is matches


@pytest.mark.parametrize("strings, policy_id", [
    (["v=STSv1; id=20260101T000000Z;"], "20260101T000000Z"),
    (["v=STSv1; id=abc"], "abc"),
    (["v=STSv1;"], None),  # no id
    (["v=STSv1; id=bad-id"], None),  # id is letters and digits only
    (["v=STSv1; id=a", "v=STSv1; id=b"], None),  # two policies: none
    (["v=spf1 -all"], None),
])
def test_txt_record_announces_a_policy(strings, policy_id):
    assert parse_txt(strings) == policy_id


def test_tlsa_usability_follows_rfc_7672():
    assert Tlsa(3, 1, 1, bytes(32)).usable
    assert Tlsa(2, 0, 2, bytes(64)).usable
    assert not Tlsa(1, 1, 1, bytes(32)).usable  # PKIX usages are unusable for SMTP
    assert not Tlsa(3, 1, 1, bytes(31)).usable  # a SHA-256 digest has 32 octets
    assert not Tlsa(3, 2, 1, bytes(32)).usable  # unknown selector


# The fake DNS server as a validating resolver

@pytest.mark.parametrize("status, rcode, ad", [
    ("secure", dns.rcode.NOERROR, True),
    ("insecure", dns.rcode.NOERROR, False),
    ("bogus", dns.rcode.SERVFAIL, False),
])
def test_dns_server_reports_dnssec_status(status, rcode, ad):
    zone = Zone([Record("_25._tcp.mx.example.test", "TLSA", "3 1 1 " + "00" * 32)])
    zone.set_dnssec(["_25._tcp.mx.example.test"], status)
    query = dns.message.make_query("_25._tcp.mx.example.test", "TLSA")
    query.flags |= dns.flags.AD  # ask for validation, as a DANE sender does
    with DnsServer(zone) as server:
        response = dns.query.udp(query, server.address, port=server.port, timeout=3)

    assert response.rcode() == rcode
    assert bool(response.flags & dns.flags.AD) is ad
