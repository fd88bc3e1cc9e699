"""swaks, a real third-party SMTP client, sending through the strict receiver from a simulated host's address."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from harness import timeouts

pytestmark = pytest.mark.thirdparty

# swaks marks what it received: "<-" in plaintext, "<~" inside TLS, and "<**"
# or "<~*" for a reply it treats as an error. What it sent: " ->" and " ~>".
_RECEIVED = re.compile(r"^<(?:-|~|\*\*|~\*)\s+(\d{3})([ -])(\S*)")
_SENT = re.compile(r"^ (?:->|~>) (\S+)")


@pytest.fixture
def swaks() -> str:
    path = shutil.which("swaks")
    if path is None:
        pytest.skip("swaks is not installed; .ci/run installs it")
    return path


def replies_by_command(transcript: str) -> dict[str, tuple[int, str]]:
    """Map each command swaks sent (MAIL, RCPT, ., STARTTLS, ...) to the code and enhanced status it got back.

    Only the last line of a multi-line reply counts (RFC 5321 section 4.2.1).
    """
    replies: dict[str, tuple[int, str]] = {}
    command = "<banner>"
    for line in transcript.splitlines():
        sent = _SENT.match(line)
        if sent:
            command = sent.group(1).split(":")[0].upper()
            continue
        received = _RECEIVED.match(line)
        if received and received.group(2) == " ":
            replies[command] = (int(received.group(1)), received.group(3))
    return replies


def _send(swaks: str, host, *extra: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    where = host.address
    command = [swaks, "--server", where.address, "--port", str(where.port),
               "--local-interface", host.source_address, "--helo", host.sender_name,
               "--from", f"postmaster@{host.sender_name}", "--to", host.recipient,
               "--timeout", str(int(timeouts.TOOL_TIMEOUT)), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeouts.TOOL_TIMEOUT)


def test_swaks_without_starttls_gets_451_5_7_3(swaks, scenario_host):
    host = scenario_host("sender-no-starttls", "broken")

    done = _send(swaks, host)
    replies = replies_by_command(done.stdout)

    assert replies["MAIL"] == (451, "5.7.3")
    assert "RCPT" not in replies
    assert host.server.rejection(host.source_address).reason == "starttls-required"


def test_swaks_starttls_fixed_host_delivers(swaks, scenario_host):
    host = scenario_host("ptr-missing", "fixed")

    done = _send(swaks, host, "--tls")
    replies = replies_by_command(done.stdout)

    assert done.returncode == 0, done.stdout + done.stderr
    assert replies["STARTTLS"] == (220, "2.0.0")
    assert replies["MAIL"] == (250, "2.1.0")
    assert replies["RCPT"] == (250, "2.1.5")
    assert replies["."] == (250, "2.6.0")
    assert [event.kind for event in host.server.events][:1] == ["tls-established"]


def test_swaks_without_ptr_gets_550(swaks, scenario_host):
    host = scenario_host("ptr-missing", "broken")

    replies = replies_by_command(_send(swaks, host, "--tls").stdout)

    assert replies["MAIL"] == (550, "5.7.25")


def test_parser_reads_last_reply_line():
    transcript = "\n".join([
        "<-  220 mx.test ready", " -> EHLO a.test", "<-  250-mx.test Hello", "<-  250 SMTPUTF8",
        " -> MAIL FROM:<a@a.test>", "<** 451 5.7.3 STARTTLS is required", " -> QUIT", "<-  221 2.0.0 Bye",
    ])

    assert replies_by_command(transcript) == {
        "<banner>": (220, "mx.test"), "EHLO": (250, "SMTPUTF8"), "MAIL": (451, "5.7.3"), "QUIT": (221, "2.0.0"),
    }
