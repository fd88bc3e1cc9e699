"""TLS-RPT output: ``run --tlsrpt FILE`` writes an RFC 8460 aggregate report that passes section 4.4's rules."""

from __future__ import annotations

import copy
import datetime
import io
import json

import pytest

from harness.cli import EXIT_OK, EXIT_USAGE, main
from harness.policy import PolicyResult, PolicyType
from harness.outcome import FailureClass
from harness.tlsrpt import build_report, validate_report

MIXED = ["sts-certificate-expired", "sts-testing-mode", "dane-tlsa-invalid", "dane-required",
         "sts-policy-fetch-error", "self-signed"]


@pytest.fixture(scope="module")
def mixed_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("tlsrpt") / "report.json"
    status = main(["run", *MIXED, "--tlsrpt", str(path)], out=io.StringIO())
    assert status == EXIT_OK
    return json.loads(path.read_text(encoding="utf-8"))


def _entry(report, domain):
    entries = [e for e in report["policies"] if e["policy"]["policy-domain"] == domain]
    assert len(entries) == 1, f"expected one policy entry for {domain}"
    return entries[0]


def test_mixed_run_report_is_valid(mixed_report):
    assert validate_report(mixed_report) == []
    assert mixed_report["organization-name"] == "smtp-tls-harness"
    assert mixed_report["date-range"]["start-datetime"].endswith("Z")


def test_report_has_one_entry_per_policy_domain(mixed_report):
    domains = sorted(e["policy"]["policy-domain"] for e in mixed_report["policies"])

    # self-signed runs with the strict sender, which evaluates no policy, so it is not reported.
    expected = sorted(f"{variant}.{slug}.test" for slug in MIXED if slug != "self-signed"
                      for variant in ("broken", "fixed"))
    assert domains == expected


def test_enforced_failure_is_counted_with_its_details(mixed_report):
    entry = _entry(mixed_report, "broken.sts-certificate-expired.test")

    assert entry["policy"]["policy-type"] == "sts"
    assert entry["policy"]["mx-host"] == ["mx.broken.sts-certificate-expired.test"]
    assert "mode: enforce" in entry["policy"]["policy-string"]
    assert entry["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}
    [detail] = entry["failure-details"]
    assert detail["result-type"] == "certificate-expired"
    assert detail["receiving-mx-hostname"] == "mx.broken.sts-certificate-expired.test"
    assert detail["sending-mta-ip"].startswith("127.")
    assert detail["receiving-ip"].startswith("127.")
    assert detail["failed-session-count"] == 1
    assert detail["failure-reason-code"] == "expired"


def test_fixed_variant_counts_one_success(mixed_report):
    entry = _entry(mixed_report, "fixed.sts-certificate-expired.test")

    assert entry["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 0}
    assert "failure-details" not in entry


def test_testing_mode_failure_is_reported_although_delivered(mixed_report):
    entry = _entry(mixed_report, "broken.sts-testing-mode.test")

    assert "mode: testing" in entry["policy"]["policy-string"]
    assert entry["summary"]["total-failure-session-count"] == 1
    assert entry["failure-details"][0]["result-type"] == "certificate-host-mismatch"


def test_dane_entries_carry_tlsa_records(mixed_report):
    entry = _entry(mixed_report, "broken.dane-tlsa-invalid.test")

    assert entry["policy"]["policy-type"] == "tlsa"
    assert "mx-host" not in entry["policy"]
    assert [s.split()[:3] for s in entry["policy"]["policy-string"]] == [["3", "1", "1"]]
    assert entry["failure-details"][0]["result-type"] == "tlsa-invalid"


def test_dane_required_is_reported_without_a_policy(mixed_report):
    entry = _entry(mixed_report, "broken.dane-required.test")

    assert entry["policy"]["policy-type"] == "no-policy-found"
    [detail] = entry["failure-details"]
    assert detail["result-type"] == "dane-required"
    assert "sending-mta-ip" not in detail  # the sender never connected


def test_policy_fetch_error_is_reported_without_policy_strings(mixed_report):
    entry = _entry(mixed_report, "broken.sts-policy-fetch-error.test")

    assert entry["policy"]["policy-string"] == []
    assert entry["failure-details"][0]["result-type"] == "sts-policy-fetch-error"
    assert entry["failure-details"][0]["failure-reason-code"] == "http-404"


def test_sessions_with_the_same_failure_are_aggregated():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    failure = PolicyResult(PolicyType.STS, "a.test", ("version: STSv1",), ("mx.a.test",),
                           FailureClass.CERTIFICATE_EXPIRED, "expired", "mx.a.test", "127.0.0.2", "127.0.0.1")
    success = PolicyResult(PolicyType.STS, "a.test", ("version: STSv1",), ("mx.a.test",))

    report = build_report([failure, failure, success], now, now + datetime.timedelta(days=1))

    [entry] = report["policies"]
    assert entry["summary"] == {"total-successful-session-count": 1, "total-failure-session-count": 2}
    assert entry["failure-details"][0]["failed-session-count"] == 2
    assert validate_report(report) == []


@pytest.mark.parametrize("change, problem", [
    (lambda r: r.pop("organization-name"), "organization-name: required non-empty string"),
    (lambda r: r["date-range"].update({"start-datetime": "yesterday"}), "date-range.start-datetime"),
    (lambda r: r["policies"][0]["policy"].update({"policy-type": "dane"}), "policy.policy-type"),
    (lambda r: r["policies"][0]["summary"].update({"total-failure-session-count": -1}),
     "summary.total-failure-session-count"),
    (lambda r: r["policies"][0]["failure-details"][0].update({"result-type": "expired"}), "result-type"),
    (lambda r: r["policies"][0]["failure-details"][0].update({"sending-mta-ip": "mx.a.test"}), "sending-mta-ip"),
])
def test_validator_rejects_each_schema_violation(change, problem):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    failure = PolicyResult(PolicyType.STS, "a.test", (), (), FailureClass.CERTIFICATE_EXPIRED, "expired",
                           "mx.a.test", "127.0.0.2", "127.0.0.1")
    report = copy.deepcopy(build_report([failure], now, now))
    change(report)

    problems = validate_report(report)

    assert any(problem in line for line in problems), problems


def test_unwritable_report_path_is_a_usage_error(tmp_path, capsys):
    status = main(["run", "sts-policy-invalid", "--tlsrpt", str(tmp_path / "missing" / "r.json")],
                  out=io.StringIO())

    assert status == EXIT_USAGE
    assert "choose a writable path for --tlsrpt" in capsys.readouterr().err


def test_explain_shows_each_sessions_tls_rpt_result():
    out = io.StringIO()

    status = main(["explain", "sts-testing-mode"], out=out)

    lines = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("TLS-RPT:")]
    assert status == EXIT_OK
    # broken with the policy sender, then the fixed variant; the opportunistic sender evaluates no policy
    assert lines == ["TLS-RPT: policy-type sts, result certificate-host-mismatch (hostname-mismatch)",
                     "TLS-RPT: policy-type sts, result success"]
