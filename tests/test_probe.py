"""smtp-harness probe against the harness's own scenario servers on loopback, and nothing else.

Every receiving scenario of the catalog is probed in both variants. On the
broken one the probe must name the problem the scenario is about (the class
and reason its strict run expects). On the fixed one it must find nothing
that a strict sender would refuse. The hosts in tests/probe_hosts add defects
(and one combination, an old appliance: TLS 1.0 only and self-signed) that
exercise each probe check on its own.
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

from harness import capabilities
from harness.catalog import Catalog, load_catalog, load_scenario
from harness.cli import EXIT_USAGE, main
from harness.findings import Finding, Severity, lesson_for
from harness.dns import Record
from harness.errors import ConfigurationError
from harness.loopback import allocate_address
from harness.outcome import FailureClass
from harness.pki import CertificateSpec
from harness.probe import EXIT_CODES, Mode, ProbeConfig, Verdict, probe, render_text
from harness.scenario import Direction, Scenario
from harness.smtpserver import MailServer, ServerConfig

C = FailureClass
PROBE_HOSTS = Path(__file__).parent / "probe_hosts"
CATALOG = load_catalog()

# Short enough that the host which replies 220 to STARTTLS and then goes
# silent costs one second, long enough for a busy machine on loopback.
TEST_TIMEOUT = 1.0


def server_side(catalog: Catalog) -> list[Scenario]:
    """Scenarios whose broken host makes the strict sender fail: what probe must diagnose."""
    return [s for s in catalog.scenarios if s.direction is Direction.RECEIVING and s.broken.profile == "strict"
            and s.broken.expect.failure_class is not C.DELIVERED]


def start(lab, scenario: Scenario, variant: str):  # type: ignore[no-untyped-def]
    assert lab.pki is not None
    for requirement in scenario.requires:
        reason = capabilities.missing(requirement, lab.pki)
        if reason:
            pytest.skip(reason)
    return lab.host(scenario, variant)


def config_for(started, **changes) -> ProbeConfig:  # type: ignore[no-untyped-def]
    host = started
    values = dict(host=host.mx, port=host.address.port, cafile=host.cafile, resolver=host.dns_server,
                  timeout=TEST_TIMEOUT, ports=tuple(host.network().ports.items()))
    values.update(changes)
    return ProbeConfig(**values)  # type: ignore[arg-type]


def labels(findings: tuple[Finding, ...], severity: Severity = Severity.ERROR) -> set[str]:
    return {finding.label for finding in findings if finding.severity is severity}


@pytest.mark.parametrize("scenario", server_side(CATALOG), ids=lambda s: s.slug)
def test_probe_broken_host_names_problem(smtp_lab, scenario):
    with start(smtp_lab, scenario, "broken") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    expect = scenario.broken.expect
    matching = [f for f in report.all_findings if f.failure_class is expect.failure_class
                and (not expect.reason or f.reason == expect.reason)]
    assert report.verdict is Verdict.WOULD_BE_REFUSED
    assert matching, f"no finding {expect.label} in {[f.label for f in report.all_findings]}"
    assert matching[0].severity is Severity.ERROR
    taught = CATALOG.get(matching[0].lesson or "").broken.expect
    assert (taught.failure_class, taught.reason) == (expect.failure_class, expect.reason)
    # Each catalog host has one defect, so any other error would be a false finding.
    assert labels(report.all_findings) == {matching[0].label}


@pytest.mark.parametrize("scenario", server_side(CATALOG), ids=lambda s: s.slug)
def test_probe_fixed_host_is_compatible(smtp_lab, scenario):
    if scenario.fixed.expect.failure_class is not C.DELIVERED:
        pytest.skip(f"{scenario.slug}'s fix does not deliver to the strict sender")
    with start(smtp_lab, scenario, "fixed") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.all_findings, Severity.ERROR) == set()
    assert labels(report.all_findings, Severity.WARNING) == set()


def test_probe_old_appliance_both_findings(smtp_lab):
    scenario = load_scenario(PROBE_HOSTS / "appliance-tls10-self-signed.toml")
    with start(smtp_lab, scenario, "broken") as host:
        report = probe(config_for(host), CATALOG)

    found = {f.label: f for f in report.findings if f.severity is Severity.ERROR}
    assert set(found) == {"validation-failure/protocol-version", "certificate-not-trusted/self-signed"}
    assert found["validation-failure/protocol-version"].alert == "protocol_version"
    assert found["certificate-not-trusted/self-signed"].verify_code == 18
    assert found["validation-failure/protocol-version"].lesson == "tls10-only"
    assert found["certificate-not-trusted/self-signed"].lesson == "self-signed"
    assert dict(report.versions) == {"TLSv1": True, "TLSv1.1": False, "TLSv1.2": False, "TLSv1.3": False}


def test_probe_old_appliance_fixed_compatible(smtp_lab):
    scenario = load_scenario(PROBE_HOSTS / "appliance-tls10-self-signed.toml")
    with start(smtp_lab, scenario, "fixed") as host:
        report = probe(config_for(host), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings) == set()


# (host file, error findings as (label, verify code, first hint))
PROBE_CASES = [
    ("leaf-only", {("certificate-not-trusted/unknown-issuer", 20, "incomplete-chain")}),
    ("expired-wrong-name", {("certificate-expired/expired", 10, "expired"),
                            ("certificate-host-mismatch/hostname-mismatch", 62, "wrong-host")}),
    ("not-yet-valid", {("validation-failure/not-yet-valid", 9, "not-yet-valid")}),
    ("cn-only", {("certificate-host-mismatch/hostname-mismatch", 62, "cn-only")}),
    ("wildcard-deep", {("certificate-host-mismatch/hostname-mismatch", 62, "wildcard-too-deep")}),
    ("rsa1024", {("validation-failure/key-too-weak", 66, "rsa1024-leaf")}),
    ("no-starttls", {("starttls-not-supported/not-advertised", None, "starttls-not-advertised")}),
    ("starttls-454", {("starttls-not-supported/refused", None, "starttls-refused")}),
    ("starttls-silent", {("starttls-not-supported/handshake-timeout", None, "starttls-hangs")}),
    ("tls11", {("validation-failure/protocol-version", None, "tls11-only")}),
    ("chacha-only", {("validation-failure/no-shared-cipher", None, "tls12-weak-ciphers-only")}),
    ("static-rsa-cbc", {("validation-failure/no-shared-cipher", None, "static-rsa-only")}),
]


@pytest.mark.parametrize(("name", "expected"), PROBE_CASES, ids=[case[0] for case in PROBE_CASES])
def test_each_probe_check_names_its_defect(smtp_lab, name, expected):
    scenario = load_scenario(PROBE_HOSTS / f"{name}.toml")
    with start(smtp_lab, scenario, "broken") as host:
        report = probe(config_for(host), CATALOG)

    errors = {(f.label, f.verify_code, f.hints[0]) for f in report.findings if f.severity is Severity.ERROR}
    assert errors == expected
    assert all(f.lesson is None or f.lesson in CATALOG.slugs for f in report.findings)


@pytest.mark.parametrize("name", [case[0] for case in PROBE_CASES])
def test_each_probe_host_control_is_compatible(smtp_lab, name):
    scenario = load_scenario(PROBE_HOSTS / f"{name}.toml")
    with start(smtp_lab, scenario, "fixed") as host:
        report = probe(config_for(host), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE


def test_starttls_refusal_carries_the_reply_code(smtp_lab):
    scenario = load_scenario(PROBE_HOSTS / "starttls-454.toml")
    with start(smtp_lab, scenario, "broken") as host:
        report = probe(config_for(host), CATALOG)

    assert [f.reply_code for f in report.findings if f.reason == "refused"] == [454]


def test_lesson_for_missing_slug():
    finding = Finding("x", C.VALIDATION_FAILURE, "protocol-version", Severity.ERROR, "s",
                      hints=("tls11-only", "tls10-only"))
    same_failure = {s.slug for s in CATALOG.scenarios if s.broken.expect.label == finding.label}
    without = Catalog([s for s in CATALOG.scenarios if s.slug not in same_failure | set(finding.hints)])

    assert lesson_for(finding, CATALOG) == "tls11-only"
    assert lesson_for(finding, without) is None


def test_probe_by_domain_looks_up_the_mx(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "broken") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    assert report.mx_host == host.mx
    assert report.address == host.address.address
    assert "certificate-not-trusted/self-signed" in labels(report.findings)


# The command line

def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["probe", *argv], out=out), out.getvalue()


def cli_args(host) -> list[str]:  # type: ignore[no-untyped-def]
    resolver = f"{host.dns_server[0]}:{host.dns_server[1]}"
    return [f"{host.mx}:{host.address.port}", "--resolver", resolver, "--cafile", host.cafile,
            "--timeout", str(TEST_TIMEOUT)]


def test_cli_refused_host_exit_one(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "broken") as host:
        status, text = run_cli(*cli_args(host))

    assert status == EXIT_CODES[Verdict.WOULD_BE_REFUSED] == 1
    assert "looks like self-signed: run `smtp-harness explain self-signed`" in text


def test_cli_compatible_host_exit_zero(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        status, text = run_cli(*cli_args(host), "--json")

    report = json.loads(text)
    assert status == 0
    assert report["verdict"] == "compatible"
    assert report["strict"]["ok"] is True


def test_cli_json_lists_findings_with_lessons(smtp_lab):
    with start(smtp_lab, CATALOG.get("tls10-only"), "broken") as host:
        status, text = run_cli(*cli_args(host), "--json")

    report = json.loads(text)
    assert status == 1
    assert [(f["class"], f["reason"], f["lesson"]) for f in report["findings"] if f["severity"] == "error"] == \
        [("validation-failure", "protocol-version", "tls10-only")]


def test_cli_could_not_connect_has_its_own_status(smtp_lab):
    address = allocate_address()
    with socket.socket() as unused:
        unused.bind((address, 0))
        port = unused.getsockname()[1]
    dns = f"{smtp_lab.dns.address}:{smtp_lab.dns.port}"
    status, text = run_cli(f"{address}:{port}", "--sni", "mx.nowhere.test", "--resolver", dns,
                           "--cafile", smtp_lab.cafile, "--json")

    report = json.loads(text)
    assert status == EXIT_CODES[Verdict.COULD_NOT_CONNECT] == 3
    assert report["strict"]["result"] == "connection-failure/connection-refused"


def test_cli_unknown_domain_could_not_connect(smtp_lab):
    dns = f"{smtp_lab.dns.address}:{smtp_lab.dns.port}"
    status, text = run_cli("--domain", "absent.probe.test", "--resolver", dns, "--cafile", smtp_lab.cafile,
                           "--json")

    assert status == 3
    assert json.loads(text)["findings"][0]["reason"] == "lookup-failed"


def test_cli_target_and_domain_usage_error(capsys):
    status, _ = run_cli("mx.example.test", "--domain", "example.test")

    assert status == EXIT_USAGE
    assert "either a TARGET" in capsys.readouterr().err


def test_cli_bad_port_is_a_usage_error(capsys):
    status, _ = run_cli("mx.example.test:99999")

    assert status == EXIT_USAGE
    assert "invalid port '99999'" in capsys.readouterr().err


def test_cli_missing_cafile_is_a_usage_error(capsys, tmp_path):
    status, _ = run_cli("127.0.0.1:25", "--cafile", str(tmp_path / "absent.pem"))

    assert status == EXIT_USAGE
    assert "absent.pem: cannot be read" in capsys.readouterr().err


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["probe", "--help"])

    text = capsys.readouterr().out
    assert "1  would be refused" in text
    assert "3  could not connect" in text


def test_probe_table_script_covers_every_server_side_scenario(tmp_path):
    import importlib.util

    path = Path(__file__).parent.parent / "scripts" / "probe_table.py"
    spec = importlib.util.spec_from_file_location("probe_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = tmp_path / "probe.md"

    assert module.main(["--output", str(output), "--timeout", str(TEST_TIMEOUT)]) == 0
    rows = [line for line in output.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    receiving = [s.slug for s in CATALOG.scenarios if s.direction is Direction.RECEIVING]
    assert [r.split(" | ")[0].lstrip("| ") for r in rows] == receiving


def test_probe_implicit_mode_starttls_port(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        report = probe(config_for(host, mode=Mode.IMPLICIT), CATALOG)

    assert report.verdict is Verdict.WOULD_BE_REFUSED
    assert labels(report.findings) == {"validation-failure/not-tls"}


def test_probe_silent_port_no_session(smtp_lab):
    # A listener that accepts and never greets, as an implicit-TLS port does
    # while it waits for the client's handshake.
    with socket.socket() as silent:
        silent.bind((allocate_address(), 0))
        silent.listen()
        address, port = silent.getsockname()
        config = ProbeConfig(host=address, port=port, sni="mx.silent.test", cafile=smtp_lab.cafile,
                             resolver=(smtp_lab.dns.address, smtp_lab.dns.port), timeout=0.3)
        report = probe(config, CATALOG)

    assert report.verdict is Verdict.COULD_NOT_CONNECT
    assert [(f.label, f.hints) for f in report.findings] == \
        [("protocol-error/reply-timeout", ("plaintext-on-implicit-tls-port",))]


def test_reverse_dns_missing_ptr_is_warning(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        ptr = [record for record in host.records if record.rtype == "PTR"]
        smtp_lab.zone.remove(ptr)
        report = probe(config_for(host), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings, Severity.WARNING) == {"dns-failure/no-ptr"}


def test_reverse_dns_unconfirmed_ptr_is_warning(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        ptr = [record for record in host.records if record.rtype == "PTR"]
        smtp_lab.zone.remove(ptr)
        other = Record(ptr[0].name, "PTR", "mail.elsewhere.test")
        smtp_lab.zone.add([other])
        try:
            report = probe(config_for(host), CATALOG)
        finally:
            smtp_lab.zone.remove([other])

    assert labels(report.findings, Severity.WARNING) == {"dns-failure/ptr-mismatch"}


def test_reverse_dns_unreachable_resolver_is_unknown(smtp_lab):
    # The target is an address, so the only look-up is the PTR, and nothing
    # listens at the resolver's address: the PTR is unknown, not missing.
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        report = probe(config_for(host, host=host.address.address, sni=host.mx,
                                  resolver=(allocate_address(), 53)), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings, Severity.WARNING) == set()
    assert labels(report.findings, Severity.INFO) == {"dns-failure/lookup-failed"}


def test_cli_verbose_lists_sessions(smtp_lab):
    with start(smtp_lab, CATALOG.get("tls10-only"), "broken") as host:
        _, quiet = run_cli(*cli_args(host))
        _, verbose = run_cli(*cli_args(host), "-v")

    sessions = [line.split()[0] for line in verbose.splitlines() if line.startswith("  ")
                and line.split()[0] in ("strict", "version", "chain", "without")]
    assert not any(line.startswith("sessions (") for line in quiet.splitlines())
    assert [line for line in verbose.splitlines() if line.startswith("sessions (")] == ["sessions (7):"]
    assert sessions == ["strict", "version", "version", "version", "version", "chain", "without"]


def test_probe_domain_judges_every_mx(smtp_lab):
    scenario = load_scenario(PROBE_HOSTS / "second-mx-wrong-name.toml")
    with start(smtp_lab, scenario, "broken") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    assert [other.mx_host for other in report.others] == [f"mx2.{host.domain}"]
    assert labels(report.findings) == set()
    assert labels(report.others[0].findings) == {"certificate-host-mismatch/hostname-mismatch"}
    assert report.others[0].findings[0].hints[0] == "second-mx-wrong-cert"
    assert report.verdict is Verdict.WOULD_BE_REFUSED


def test_probe_domain_every_mx_fixed(smtp_lab):
    scenario = load_scenario(PROBE_HOSTS / "second-mx-wrong-name.toml")
    with start(smtp_lab, scenario, "fixed") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    assert len(report.others) == 1
    assert report.verdict is Verdict.COMPATIBLE


def test_probe_domain_one_mx_unreachable_verdict(smtp_lab):
    # A backup MX on a loopback address where nothing listens: refused at once.
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        backup = [Record(host.domain, "MX", f"20 mx2.{host.domain}"),
                  Record(f"mx2.{host.domain}", "A", allocate_address())]
        smtp_lab.zone.add(backup)
        try:
            report = probe(config_for(host, host=None, domain=host.domain), CATALOG)
        finally:
            smtp_lab.zone.remove(backup)

    assert report.own_verdict is Verdict.COMPATIBLE
    assert report.others[0].own_verdict is Verdict.COULD_NOT_CONNECT
    assert report.verdict is Verdict.COULD_NOT_CONNECT
    assert render_text(report).splitlines()[-1].startswith(
        "verdict: could not connect to every MX host and address; the others are judged above (exit 3")


def test_probe_address_without_sni_checks_address(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        report = probe(config_for(host, host=host.address.address), CATALOG)

    assert report.sni is None
    assert report.strict is not None
    assert (report.strict.label, report.strict.failure.verify_code) == ("certificate-host-mismatch/ip-mismatch", 64)
    assert labels(report.findings) == {"certificate-host-mismatch/ip-mismatch"}


def test_probe_implicit_mode_on_implicit_port(smtp_lab):
    with start(smtp_lab, CATALOG.get("plaintext-on-implicit-tls-port"), "broken") as host:
        report = probe(config_for(host, mode=Mode.IMPLICIT), CATALOG)

    assert report.verdict is Verdict.COMPATIBLE
    assert report.strict is not None
    assert report.strict.ok


def test_probe_starttls_mode_on_implicit_port(smtp_lab):
    with start(smtp_lab, CATALOG.get("plaintext-on-implicit-tls-port"), "broken") as host:
        report = probe(config_for(host, timeout=0.3), CATALOG)

    assert report.verdict is Verdict.COULD_NOT_CONNECT
    assert [(f.label, f.lesson) for f in report.findings] == \
        [("protocol-error/reply-timeout", "plaintext-on-implicit-tls-port")]


EXACT_LESSONS = ["sslv3-only", "rc4-only", "3des-only", "tls11-only", "tls12-weak-ciphers-only", "dh1024",
                 "static-rsa-only", "starttls-refused", "starttls-not-advertised", "starttls-injection",
                 "second-mx-wrong-cert"]


@pytest.mark.parametrize("slug", [slug for slug in EXACT_LESSONS if slug in CATALOG.slugs])
def test_probe_broken_host_exact_lesson(smtp_lab, slug):
    # Problems that fail the same way (no shared cipher) still get their own lesson:
    # tlslite-ng asks about SSLv3, RC4 and 3DES, and the suite chosen tells DH and static RSA apart.
    with start(smtp_lab, CATALOG.get(slug), "broken") as host:
        report = probe(config_for(host, host=None, domain=host.domain), CATALOG)

    errors = [f for f in report.all_findings if f.severity is Severity.ERROR]
    assert [f.lesson for f in errors] == [slug]
    assert errors[0].label == CATALOG.get(slug).broken.expect.label


def test_probe_ipv6_only_mx_is_looked_up(smtp_lab):
    # The MX host has only an AAAA record, ::1, where nothing listens on the
    # probe's port: the probe reaches the address, and the address refuses.
    records = [Record("v6only.probe.test", "MX", "10 mx.v6only.probe.test"),
               Record("mx.v6only.probe.test", "AAAA", "::1")]
    smtp_lab.zone.add(records)
    with socket.socket(socket.AF_INET6) as unused:
        unused.bind(("::1", 0))
        port = unused.getsockname()[1]
        try:
            report = probe(ProbeConfig(domain="v6only.probe.test", port=port, cafile=smtp_lab.cafile,
                                       resolver=(smtp_lab.dns.address, smtp_lab.dns.port), timeout=TEST_TIMEOUT),
                           CATALOG)
        finally:
            smtp_lab.zone.remove(records)

    assert report.address == "::1"
    assert report.verdict is Verdict.COULD_NOT_CONNECT
    assert report.strict is not None
    assert report.strict.label == "connection-failure/connection-refused"


def test_probe_ipv4_preferred_over_ipv6(smtp_lab):
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        extra = [Record(host.mx, "AAAA", "::1")]
        smtp_lab.zone.add(extra)
        try:
            report = probe(config_for(host, host=None, domain=host.domain), CATALOG)
        finally:
            smtp_lab.zone.remove(extra)

    assert report.address == host.address.address
    assert report.others == ()
    assert report.verdict is Verdict.COMPATIBLE


def test_cli_null_mx_domain_could_not_connect(smtp_lab):
    # RFC 7505: "0 ." declares that the domain accepts no mail, so there is no host to probe.
    records = [Record("nullmx.probe.test", "MX", "0 .")]
    smtp_lab.zone.add(records)
    dns = f"{smtp_lab.dns.address}:{smtp_lab.dns.port}"
    try:
        status, text = run_cli("--domain", "nullmx.probe.test", "--resolver", dns, "--cafile", smtp_lab.cafile,
                               "--json")
    finally:
        smtp_lab.zone.remove(records)

    finding = json.loads(text)["findings"][0]
    assert status == EXIT_CODES[Verdict.COULD_NOT_CONNECT]
    assert (finding["class"], finding["reason"]) == ("dns-failure", "lookup-failed")
    assert finding["evidence"][0].startswith("NoRecords: ")


@pytest.mark.parametrize("cap", [None, 2])
def test_probe_host_that_caps_sessions_per_client(smtp_lab, cap):
    # Exim past smtp_accept_max_per_host and Exchange past MaxInboundConnectionPerSource
    # greet a client's extra sessions with 421. The probe opens its sessions at once, so
    # such a host turns some away; they must not read as TLS problems of the host.
    name = "mx.capped.probe.test"
    issued = smtp_lab.pki.issue(CertificateSpec(names=(name,)))
    with MailServer(ServerConfig(name, issued, max_sessions=cap), loop=smtp_lab.loop) as server:
        config = ProbeConfig(host=server.address, port=server.port, sni=name, cafile=smtp_lab.cafile,
                             resolver=(smtp_lab.dns.address, smtp_lab.dns.port), timeout=TEST_TIMEOUT)
        report = probe(config, CATALOG)
        turned_away = [event for event in server.events if event.kind == "turned-away"]

    assert bool(turned_away) is (cap is not None)
    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings) == set()
    assert report.versions == (("TLSv1", False), ("TLSv1.1", False), ("TLSv1.2", True), ("TLSv1.3", True))


@pytest.mark.parametrize("name", ["mail\\032server.elsewhere.test", "."])
def test_reverse_dns_unqueryable_ptr_name(smtp_lab, name):
    # A PTR name with a space (the stub resolver shows it escaped as \032) or the root
    # name: its A record cannot be asked for, so the PTR is not forward-confirmed.
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        ptr = [record for record in host.records if record.rtype == "PTR"]
        smtp_lab.zone.remove(ptr)
        odd = [Record(ptr[0].name, "PTR", name)]
        smtp_lab.zone.add(odd)
        try:
            report = probe(config_for(host), CATALOG)
        finally:
            smtp_lab.zone.remove(odd)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings, Severity.WARNING) == {"dns-failure/ptr-mismatch"}


def test_probe_domain_unqueryable_mx_name(smtp_lab):
    # One MX names a host with a space in a label: that host's look-up fails, the others are probed.
    with start(smtp_lab, CATALOG.get("self-signed"), "fixed") as host:
        odd = [Record(host.domain, "MX", "20 mx\\032two.elsewhere.test")]
        smtp_lab.zone.add(odd)
        try:
            report = probe(config_for(host, host=None, domain=host.domain), CATALOG)
        finally:
            smtp_lab.zone.remove(odd)

    assert (report.mx_host, labels(report.findings)) == (host.mx, set())
    assert [(other.mx_host, labels(other.findings)) for other in report.others] == \
        [("mx\\032two.elsewhere.test", {"dns-failure/lookup-failed"})]


@pytest.mark.parametrize("typed", ["mx.xn--bcher-kva.test", "mx.bücher.test"])
@pytest.mark.parametrize("option", ["host", "sni"])
def test_probe_internationalized_name_as_typed(smtp_lab, typed, option):
    # An admin may type the MX name as its U-label; DNS, SNI and the leaf's
    # subjectAltName all carry the A-label (RFC 5890), so the probe must compare that.
    name = "mx.xn--bcher-kva.test"
    issued = smtp_lab.pki.issue(CertificateSpec(names=(name,)))
    with MailServer(ServerConfig(name, issued), loop=smtp_lab.loop) as server:
        records = [Record(name, "A", server.address)]
        smtp_lab.zone.add(records)
        target = dict(host=typed) if option == "host" else dict(host=server.address, sni=typed)
        try:
            report = probe(ProbeConfig(port=server.port, cafile=smtp_lab.cafile, timeout=TEST_TIMEOUT,
                                       resolver=(smtp_lab.dns.address, smtp_lab.dns.port), **target), CATALOG)
        finally:
            smtp_lab.zone.remove(records)

    assert report.verdict is Verdict.COMPATIBLE
    assert labels(report.findings) == set()
    assert (report.mx_host if option == "host" else report.sni) == name


@pytest.mark.parametrize("option", ["host", "domain", "sni"])
def test_probe_invalid_internationalized_name_is_usage_error(option):
    values = {option: "mx.bü..test", **({"host": "mx.example.test"} if option == "sni" else {})}

    with pytest.raises(ConfigurationError, match="mx.bü..test"):
        ProbeConfig(**values)  # type: ignore[arg-type]
