"""The certificate group: each broken variant fails with its exact class, reason and verify code, each fix delivers.

The third-party checks run the real ``openssl`` binary against the same
hosts: ``s_client -starttls smtp -verify_return_error`` must stop with the
verify code the strict client reports, ``openssl verify`` must accept the
re-signed SHA-1 leaf's signature once security checks are off, and
``openssl ocsp`` must read the harness's OCSP responder the way the strict
client does.
"""

from __future__ import annotations

import re
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID

from harness import timeouts
from harness.outcome import FailureClass, Stage, Trust
from harness.revocation import crl_urls, ocsp_urls

from .conftest import starttls_socket

C = FailureClass

BROKEN = [
    # slug, class, reason, stage, verify code
    ("untrusted-root", C.CERTIFICATE_NOT_TRUSTED, "untrusted-root", Stage.CERTIFICATE, 19),
    ("incomplete-chain", C.CERTIFICATE_NOT_TRUSTED, "unknown-issuer", Stage.CERTIFICATE, 20),
    ("expired", C.CERTIFICATE_EXPIRED, "expired", Stage.CERTIFICATE, 10),
    ("not-yet-valid", C.VALIDATION_FAILURE, "not-yet-valid", Stage.CERTIFICATE, 9),
    ("wrong-host", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, 62),
    ("cn-only", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, 62),
    ("wildcard-too-deep", C.CERTIFICATE_HOST_MISMATCH, "hostname-mismatch", Stage.CERTIFICATE, 62),
    ("rsa1024-leaf", C.VALIDATION_FAILURE, "key-too-weak", Stage.CERTIFICATE, 66),
    ("sha1-signed", C.VALIDATION_FAILURE, "weak-signature", Stage.CERTIFICATE, 68),
    ("revoked-ocsp", C.VALIDATION_FAILURE, "certificate-revoked", Stage.REVOCATION, 23),
    ("crl-unreachable", C.VALIDATION_FAILURE, "crl-unavailable", Stage.REVOCATION, 3),
]
SLUGS = [case[0] for case in BROKEN]

# The scenarios whose verify code OpenSSL's own client reaches in the handshake.
# cn-only is left out on purpose: s_client falls back to the common name (see below),
# and the two revocation scenarios fail after the handshake, which s_client does not check.
# The unreachable CRL costs one revocation timeout per delivery (0.3 s, set by
# the scenario), so the timeout is checked on the same delivery as the code.
NAMED_IN_ERROR = {"crl-unreachable": "no answer within the revocation timeout (0.3 s"}

S_CLIENT_CODES = [(slug, code) for slug, _, _, stage, code in BROKEN
                  if stage is Stage.CERTIFICATE and slug != "cn-only"]


@pytest.mark.parametrize("slug, failure_class, reason, stage, verify_code", BROKEN, ids=SLUGS)
def test_broken_variant_fails_exactly(scenario_host, slug, failure_class, reason, stage, verify_code):
    outcome = scenario_host(slug, "broken").deliver()

    assert outcome.failure_class is failure_class
    assert outcome.reason == reason
    assert outcome.stage is stage
    assert outcome.verify_code == verify_code
    assert outcome.trust is Trust.UNTRUSTED
    assert not outcome.delivered
    assert NAMED_IN_ERROR.get(slug, "") in outcome.error


@pytest.mark.parametrize("slug", SLUGS)
def test_fixed_variant_delivers_verified(scenario_host, slug):
    outcome = scenario_host(slug, "fixed").deliver()

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.trust is Trust.VERIFIED
    assert outcome.reply is not None and outcome.reply.code == 250


@pytest.mark.parametrize("slug", ["expired", "untrusted-root", "revoked-ocsp", "crl-unreachable"])
def test_opportunistic_sender_delivers_untrusted(scenario_host, slug):
    outcome = scenario_host(slug, "broken").deliver(profile="opportunistic")

    assert outcome.failure_class is FailureClass.DELIVERED
    assert outcome.trust is Trust.UNTRUSTED


def test_default_context_accepts_cn_only(scenario_host):
    # Control for cn-only: Python 3.11's default context still matches the
    # common name, so the same leaf passes once the fallback is on.
    host = scenario_host("cn-only", "broken")
    context = ssl.create_default_context(cafile=host.cafile)
    assert context.hostname_checks_common_name

    sock = starttls_socket(host.address.address, host.address.port)
    with context.wrap_socket(sock, server_hostname=host.mx) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_ocsp_leaf_has_no_crl(scenario_host):
    leaf = scenario_host("revoked-ocsp", "broken").server.config.certificate.certificate

    assert len(ocsp_urls(leaf)) == 1
    assert crl_urls(leaf) == []


def test_sha1_leaf_signature_algorithm(scenario_host):
    leaf = scenario_host("sha1-signed", "broken").server.config.certificate.certificate

    assert leaf.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA1
    assert leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)


# Third-party cross-checks


def _s_client(openssl: str, host) -> str:  # type: ignore[no-untyped-def]
    command = [
        openssl, "s_client", "-starttls", "smtp", "-connect", f"{host.address.address}:{host.address.port}",
        "-servername", host.mx, "-CAfile", host.cafile, "-verify_hostname", host.mx, "-verify_return_error",
    ]
    done = subprocess.run(command, input=b"QUIT\r\n", capture_output=True, timeout=timeouts.TOOL_TIMEOUT)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def _verify_return_code(output: str) -> int:
    match = re.search(r"Verify return code: (\d+)", output)
    assert match, f"no verify result in s_client output:\n{output}"
    return int(match.group(1))


@pytest.mark.thirdparty
def test_s_client_reports_the_same_verify_codes(openssl_binary, scenario_host):
    observed = {slug: _verify_return_code(_s_client(openssl_binary, scenario_host(slug, "broken")))
                for slug, _ in S_CLIENT_CODES}
    fixed = {slug: _verify_return_code(_s_client(openssl_binary, scenario_host(slug, "fixed")))
             for slug, _ in S_CLIENT_CODES}

    assert observed == dict(S_CLIENT_CODES)
    assert set(fixed.values()) == {0}


@pytest.mark.thirdparty
def test_s_client_falls_back_to_the_common_name(openssl_binary, scenario_host):
    # openssl s_client -verify_hostname accepts a CN-only leaf, which is why
    # the cn-only lesson warns that a check with openssl alone looks fine.
    output = _s_client(openssl_binary, scenario_host("cn-only", "broken"))

    assert _verify_return_code(output) == 0


def _write_pem(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeouts.TOOL_TIMEOUT)


@pytest.mark.thirdparty
def test_openssl_verify_accepts_the_sha1_signature_only_without_security_checks(
        openssl_binary, scenario_host, smtp_lab, tmp_path):
    leaf = scenario_host("sha1-signed", "broken").server.config.certificate.certificate
    leaf_file = _write_pem(tmp_path / "leaf.pem", leaf)
    issuer_file = _write_pem(tmp_path / "issuer.pem", smtp_lab.pki.rsa_intermediate.certificate)
    base = [openssl_binary, "verify", "-CAfile", smtp_lab.cafile, "-untrusted", issuer_file]

    relaxed = _run([*base, "-auth_level", "0", leaf_file])
    strict = _run([*base, "-auth_level", "1", leaf_file])

    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert re.search(r"^error 68 at 0 depth", strict.stdout + strict.stderr, re.MULTILINE), strict


@pytest.mark.thirdparty
@pytest.mark.parametrize("variant, status", [("broken", "revoked"), ("fixed", "good")])
def test_openssl_ocsp_reads_the_responder(openssl_binary, scenario_host, smtp_lab, tmp_path, variant, status):
    leaf = scenario_host("revoked-ocsp", variant).server.config.certificate.certificate
    leaf_file = _write_pem(tmp_path / "leaf.pem", leaf)
    issuer_file = _write_pem(tmp_path / "issuer.pem", smtp_lab.pki.intermediate.certificate)

    done = _run([openssl_binary, "ocsp", "-issuer", issuer_file, "-cert", leaf_file, "-url", ocsp_urls(leaf)[0],
                 "-CAfile", smtp_lab.cafile, "-no_nonce", "-timeout", str(int(timeouts.REVOCATION_FETCH_TIMEOUT))])

    assert "Response verify OK" in done.stdout + done.stderr, done
    assert re.search(rf"^{re.escape(leaf_file)}: {status}$", done.stdout, re.MULTILINE), done
