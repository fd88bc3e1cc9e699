"""The policy engine: what MTA-STS and DANE demand of each MX, and what a session reports.

Before it connects, a policy-aware sender (Exchange Online since 2022, or
Postfix with DANE and an MTA-STS resolver) checks two things per recipient
domain and MX host:

1. DANE (RFC 7672): are there DNSSEC-validated TLSA records at
   ``_25._tcp.<mx>``? DANE takes precedence over MTA-STS (RFC 8461
   section 2).
2. MTA-STS (RFC 8461): does the domain publish a policy, and does it list
   this MX?

The answer is a ``Requirement`` the client applies while connecting and
verifying: plain opportunistic TLS, Web PKI validation (MTA-STS), TLSA
matching (DANE), or no connection at all (defer). Every session then yields
one ``PolicyResult``, the unit TLS-RPT (RFC 8460) counts: the policy it ran
under, and success or the result type of its failure.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Mapping

import dns.flags
import dns.resolver

from . import dane, mtasts, timeouts
from .outcome import FailureClass

C = FailureClass


class PolicyType(str, enum.Enum):
    """The policy types of RFC 8460 section 4.4."""

    STS = "sts"
    TLSA = "tlsa"
    NONE = "no-policy-found"

    def __str__(self) -> str:
        return self.value


class Check(str, enum.Enum):
    """The way a session authenticates the MX."""

    NONE = "none"  # the profile's own behaviour (opportunistic or forced TLS)
    WEBPKI = "webpki"  # chain to a public root and the MX name (MTA-STS)
    DANE = "dane"  # match the chain against usable TLSA records
    ENCRYPT = "encrypt"  # STARTTLS mandatory, no authentication (only unusable TLSA records)


@dataclass(frozen=True)
class PolicyResult:
    """One session as TLS-RPT reports it: the policy, and success or the failure's result type."""

    policy_type: PolicyType
    policy_domain: str
    policy_strings: tuple[str, ...] = ()
    mx_patterns: tuple[str, ...] = ()
    result_type: FailureClass | None = None  # None: the session succeeded
    reason: str = ""
    mx_host: str | None = None
    receiving_ip: str | None = None
    sending_ip: str | None = None
    enforced: bool = True

    @property
    def success(self) -> bool:
        return self.result_type is None

    def to_dict(self) -> dict[str, object]:
        return {
            "policy_type": str(self.policy_type),
            "policy_domain": self.policy_domain,
            "result_type": str(self.result_type) if self.result_type else "success",
            "reason": self.reason,
            "enforced": self.enforced,
        }


@dataclass(frozen=True)
class Requirement:
    """The demands of the policies on one MX host, decided before connecting."""

    check: Check
    require_tls: bool
    enforce: bool  # False in MTA-STS testing mode: failures are reported, delivery goes on
    report: PolicyResult
    tlsa: tuple[dane.Tlsa, ...] = ()
    dane_names: tuple[str, ...] = ()
    defer: tuple[FailureClass, str, str] | None = None  # class, reason, message: do not connect

    def relaxed(self) -> "Requirement":
        """Return this policy with nothing enforced, which is how testing mode delivers after a failure."""
        return dataclasses.replace(self, check=Check.NONE, require_tls=False, enforce=False)

    def result(self, failure_class: FailureClass | None, reason: str, receiving_ip: str | None,
               sending_ip: str | None) -> PolicyResult:
        """Return the TLS-RPT result of a session under this requirement."""
        if failure_class is None and self.report.result_type is not None:
            # Delivered, but the policy itself failed before the session
            # (an unusable MTA-STS policy, an MX missing from a testing policy).
            failure_class, reason = self.report.result_type, self.report.reason
        return dataclasses.replace(self.report, result_type=failure_class, reason=reason,
                                   receiving_ip=receiving_ip, sending_ip=sending_ip, enforced=self.enforce)


# Result types a policy reports; other classes (SMTP rejections, DNS) are not TLS-RPT's business.
REPORTABLE = {
    C.STARTTLS_NOT_SUPPORTED, C.CERTIFICATE_HOST_MISMATCH, C.CERTIFICATE_EXPIRED, C.CERTIFICATE_NOT_TRUSTED,
    C.VALIDATION_FAILURE, C.TLSA_INVALID, C.DNSSEC_INVALID, C.DANE_REQUIRED, C.STS_POLICY_FETCH_ERROR,
    C.STS_POLICY_INVALID, C.STS_WEBPKI_INVALID,
}


class PolicyEngine:
    """Discovers a domain's policies through the fake DNS and decides each MX's requirement.

    ``require_dane`` is the sender's own setting: deliver to this domain only
    with DANE, as a per-destination "dane-only" policy in Postfix does.
    """

    def __init__(self, dns_server: tuple[str, int], cafile: str, https_ports: Mapping[str, int],
                 require_dane: bool = False) -> None:
        self.cafile = cafile
        self.https_ports = https_ports
        self.require_dane = require_dane
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [dns_server[0]]
        self.resolver.port = dns_server[1]
        self.resolver.lifetime = timeouts.DNS_TIMEOUT
        self.resolver.timeout = timeouts.DNS_TIMEOUT / 3
        # Ask for validated answers: a validating resolver sets AD only when asked (RFC 6840 section 5.7).
        self.resolver.flags = dns.flags.RD | dns.flags.AD

    def discover(self, domain: str) -> mtasts.Discovery:
        return mtasts.discover(domain, self.resolver, self.cafile, self.https_ports)

    def requirement(self, domain: str, mx_host: str, sts: mtasts.Discovery) -> Requirement:
        """Decide what one MX host must satisfy: DANE first, then MTA-STS, else nothing."""
        found = self._dane(domain, mx_host)
        if found is not None:
            return found
        if self.require_dane:
            report = PolicyResult(PolicyType.NONE, domain, mx_host=mx_host)
            return Requirement(Check.NONE, True, True, report, defer=(
                C.DANE_REQUIRED, "no-tlsa",
                f"the sender requires DANE for {domain}, but {mx_host} has no DNSSEC-validated TLSA records"))
        return self._sts(domain, mx_host, sts)

    def _dane(self, domain: str, mx_host: str) -> Requirement | None:
        # RFC 7672 section 2.2.1: after an insecure MX look-up the sender may
        # skip DANE, since an attacker could have chosen the MX; we do.
        if not dane.is_secure(domain, "MX", self.resolver):
            return None
        # NOTE: the DNSSEC status of the MX host's own A records is not checked
        # separately; scenarios sign the domain and the MX host together.
        found = dane.lookup_tlsa(mx_host, self.resolver)
        strings = tuple(record.presentation() for record in found.records)
        report = PolicyResult(PolicyType.TLSA, domain, strings, mx_host=mx_host)
        if found.status is dane.DnssecStatus.BOGUS:
            return Requirement(Check.DANE, True, True, report, defer=(C.DNSSEC_INVALID, "bogus-tlsa", found.error))
        if found.status is not dane.DnssecStatus.SECURE or not found.records:
            return None
        if not found.usable:
            return Requirement(Check.ENCRYPT, True, True, report)
        return Requirement(Check.DANE, True, True, report, tlsa=found.usable, dane_names=(mx_host, domain))

    def _sts(self, domain: str, mx_host: str, sts: mtasts.Discovery) -> Requirement:
        if not sts.found:
            return Requirement(Check.NONE, False, False, PolicyResult(PolicyType.NONE, domain, mx_host=mx_host))
        if sts.error is not None or sts.policy is None:
            # RFC 8461 section 3.3: no usable policy and none cached means
            # delivering as if the domain had none, and reporting why.
            # NOTE: the engine keeps no policy cache, so a fetch failure never
            # falls back to an earlier policy as a real sender's would.
            report = PolicyResult(PolicyType.STS, domain, mx_host=mx_host)
            error = sts.error
            failure = (error.failure_class, error.reason) if error else (C.STS_POLICY_FETCH_ERROR, "")
            return Requirement(Check.NONE, False, False, dataclasses.replace(
                report, result_type=failure[0], reason=failure[1]))

        policy = sts.policy
        report = PolicyResult(PolicyType.STS, domain, policy.lines, policy.mx, mx_host=mx_host)
        if policy.mode is mtasts.Mode.NONE:
            return Requirement(Check.NONE, False, False, report)
        enforce = policy.mode is mtasts.Mode.ENFORCE
        if not policy.matches(mx_host):
            message = (f"MX {mx_host} matches none of the policy's mx patterns "
                       f"({', '.join(policy.mx)}) (RFC 8461 section 4.1)")
            if enforce:
                return Requirement(Check.WEBPKI, True, True, report,
                                   defer=(C.VALIDATION_FAILURE, "mx-not-in-policy", message))
            return Requirement(Check.NONE, False, False, dataclasses.replace(
                report, result_type=C.VALIDATION_FAILURE, reason="mx-not-in-policy"))
        return Requirement(Check.WEBPKI, True, enforce, report)
