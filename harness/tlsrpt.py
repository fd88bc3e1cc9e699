"""TLS-RPT (RFC 8460): the aggregate report a sender mails to a receiving domain.

A policy-aware sender counts every session per recipient policy and, once a
day, sends each domain that publishes ``_smtp._tls.<domain>`` a JSON report
(section 4). ``build_report`` turns the sessions of a harness run into that
report, one ``policies`` entry per policy domain and policy:

- ``policy``: ``policy-type`` (sts, tlsa or no-policy-found),
  ``policy-string`` (the MTA-STS policy lines or the TLSA records),
  ``policy-domain``, and for MTA-STS the ``mx-host`` patterns;
- ``summary``: total successful and failed sessions;
- ``failure-details``: one entry per distinct failure, with ``result-type``,
  ``sending-mta-ip``, ``receiving-mx-hostname``, ``receiving-ip``,
  ``failed-session-count`` and ``failure-reason-code`` (our finer reason).

``validate_report`` checks a report against the rules of section 4.4 that a
machine can check, so the test suite and users can verify what we write.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigurationError
from .outcome import Outcome
from .policy import REPORTABLE, PolicyResult, PolicyType

ORGANIZATION = "smtp-tls-harness"
CONTACT = "postmaster@outbound.harness.test"

RESULT_TYPES = frozenset(str(failure) for failure in REPORTABLE)
POLICY_TYPES = frozenset(str(kind) for kind in PolicyType)


def session_results(outcomes: Iterable[Outcome | None]) -> list[PolicyResult]:
    """Return the policy results of the outcomes evaluated under a policy (the policy profile's)."""
    return [outcome.policy for outcome in outcomes if outcome is not None and outcome.policy is not None]


def build_report(results: Iterable[PolicyResult], start: datetime.datetime, end: datetime.datetime,
                 organization: str = ORGANIZATION, contact: str = CONTACT) -> dict[str, Any]:
    """Aggregate session results into one RFC 8460 report."""
    groups: dict[tuple[object, ...], list[PolicyResult]] = {}
    for result in results:
        key = (result.policy_domain, result.policy_type, result.policy_strings, result.mx_patterns)
        groups.setdefault(key, []).append(result)
    return {
        "organization-name": organization,
        "date-range": {"start-datetime": _datetime(start), "end-datetime": _datetime(end)},
        "contact-info": contact,
        "report-id": f"{start:%Y%m%dT%H%M%SZ}.{uuid.uuid4().hex}@{organization}",
        "policies": [_policy_entry(group) for _, group in sorted(groups.items(), key=lambda item: str(item[0]))],
    }


def _datetime(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _policy_entry(results: list[PolicyResult]) -> dict[str, Any]:
    first = results[0]
    policy: dict[str, Any] = {
        "policy-type": str(first.policy_type),
        "policy-string": list(first.policy_strings),
        "policy-domain": first.policy_domain,
    }
    if first.policy_type is PolicyType.STS:
        policy["mx-host"] = list(first.mx_patterns)
    failures = [result for result in results if not result.success]
    entry: dict[str, Any] = {
        "policy": policy,
        "summary": {
            "total-successful-session-count": len(results) - len(failures),
            "total-failure-session-count": len(failures),
        },
    }
    if failures:
        entry["failure-details"] = _failure_details(failures)
    return entry


def _failure_details(failures: list[PolicyResult]) -> list[dict[str, Any]]:
    counts = Counter((str(f.result_type), f.sending_ip, f.mx_host, f.receiving_ip, f.reason) for f in failures)
    details = []
    for (result_type, sending_ip, mx_host, receiving_ip, reason), count in sorted(counts.items(), key=str):
        detail: dict[str, Any] = {"result-type": result_type}
        if sending_ip:
            detail["sending-mta-ip"] = sending_ip
        if mx_host:
            detail["receiving-mx-hostname"] = mx_host
        if receiving_ip:
            detail["receiving-ip"] = receiving_ip
        detail["failed-session-count"] = count
        if reason:
            detail["failure-reason-code"] = reason
        details.append(detail)
    return details


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the report as uncompressed UTF-8 JSON."""
    try:
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot write the TLS-RPT report to {path}: {error}; "
                                 "choose a writable path for --tlsrpt") from error


# Validation

def validate_report(report: Any) -> list[str]:
    """Return every violation of RFC 8460 section 4.4 found in ``report``; empty when valid."""
    problems: list[str] = []
    if not isinstance(report, dict):
        return ["the report is not a JSON object"]
    for key in ("organization-name", "contact-info", "report-id"):
        if not isinstance(report.get(key), str) or not report.get(key):
            problems.append(f"{key}: required non-empty string")
    problems += _check_date_range(report.get("date-range"))
    policies = report.get("policies")
    if not isinstance(policies, list):
        return problems + ["policies: required array"]
    for index, entry in enumerate(policies):
        problems += [f"policies[{index}].{problem}" for problem in _check_policy_entry(entry)]
    return problems


def _check_date_range(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return ["date-range: required object"]
    problems = []
    moments = []
    for key in ("start-datetime", "end-datetime"):
        try:
            moments.append(datetime.datetime.fromisoformat(str(value.get(key)).replace("Z", "+00:00")))
        except ValueError:
            problems.append(f"date-range.{key}: not an RFC 3339 date-time: {value.get(key)!r}")
    if len(moments) == 2 and moments[0] > moments[1]:
        problems.append("date-range: start-datetime is after end-datetime")
    return problems


def _check_policy_entry(entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return ["not an object"]
    problems = []
    policy = entry.get("policy")
    if not isinstance(policy, dict):
        problems.append("policy: required object")
        policy = {}
    if policy.get("policy-type") not in POLICY_TYPES:
        problems.append(f"policy.policy-type: {policy.get('policy-type')!r} is not one of {sorted(POLICY_TYPES)}")
    strings = policy.get("policy-string", [])
    if not isinstance(strings, list) or not all(isinstance(s, str) for s in strings):
        problems.append("policy.policy-string: must be an array of strings")
    if not isinstance(policy.get("policy-domain"), str) or not policy.get("policy-domain"):
        problems.append("policy.policy-domain: required string")
    summary = entry.get("summary")
    if not isinstance(summary, dict):
        return problems + ["summary: required object"]
    for key in ("total-successful-session-count", "total-failure-session-count"):
        if not _count(summary.get(key)):
            problems.append(f"summary.{key}: required non-negative integer")
    problems += _check_failure_details(entry.get("failure-details", []), summary)
    return problems


def _check_failure_details(details: Any, summary: dict[str, Any]) -> list[str]:
    if not isinstance(details, list):
        return ["failure-details: must be an array"]
    problems = []
    for index, detail in enumerate(details):
        where = f"failure-details[{index}]"
        if not isinstance(detail, dict):
            problems.append(f"{where}: not an object")
            continue
        if detail.get("result-type") not in RESULT_TYPES:
            problems.append(f"{where}.result-type: {detail.get('result-type')!r} is not an RFC 8460 result type")
        if not _count(detail.get("failed-session-count")):
            problems.append(f"{where}.failed-session-count: required non-negative integer")
        for key in ("sending-mta-ip", "receiving-ip"):
            if key in detail and not _ip(detail[key]):
                problems.append(f"{where}.{key}: {detail[key]!r} is not an IP address")
    failed = sum(d.get("failed-session-count", 0) for d in details if isinstance(d, dict))
    if details and _count(summary.get("total-failure-session-count")) and \
            failed > summary["total-failure-session-count"]:
        problems.append("failure-details: more failed sessions than summary.total-failure-session-count")
    return problems


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
