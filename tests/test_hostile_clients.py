"""The strict receiver against misbehaving senders: each session ends in time, and mail still flows.

The receiver is the Outlook.com-like inbound MX of the sending direction.
Each case drives one raw client from harness.testing.clients at it and
checks the reply code the receiver gave, that the receiver ended or settled
the session within its named timeout, and that the healthy sender of the
same scenario delivers right after: the passing control.
"""

from __future__ import annotations

import time
from typing import Callable

import pytest

from harness import timeouts
from harness.outcome import FailureClass
from harness.testing.clients import MisbehavingClient

# A short idle timeout for the receiver's sessions, and room for a busy machine.
IDLE_TIMEOUT = 1.0
SESSION_LIMIT = 2.0
MARGIN = 2.0


@pytest.fixture
def receiver(scenario_host, monkeypatch):
    """The strict receiver of a healthy sending scenario, with a short idle timeout."""
    monkeypatch.setattr(timeouts, "SERVER_IDLE_TIMEOUT", IDLE_TIMEOUT)
    return scenario_host("sender-no-starttls", "fixed")


def _client(receiver) -> MisbehavingClient:  # type: ignore[no-untyped-def]
    return MisbehavingClient(receiver.address.address, receiver.address.port, source=receiver.source_address,
                             reply_timeout=IDLE_TIMEOUT)


def _control_delivers(receiver) -> None:  # type: ignore[no-untyped-def]
    assert receiver.server.wait_idle(receiver.source_address), "the receiver kept the hostile session open"
    outcome = receiver.deliver()
    assert outcome.failure_class is FailureClass.DELIVERED, outcome.error


def test_silent_client_is_closed_at_idle_timeout(receiver):
    with _client(receiver) as client:
        banner = client.reply()
        took = client.wait_for_close(IDLE_TIMEOUT + MARGIN)

    assert banner.code == 220
    assert took is not None, f"the receiver kept a silent client beyond {IDLE_TIMEOUT + MARGIN} s"
    _control_delivers(receiver)


def test_garbage_line_gets_500(receiver):
    with _client(receiver) as client:
        client.reply()
        client.send(b"\x00\xff\x1b[0m garbage\r\n")
        reply = client.reply()

    assert reply.code == 500
    _control_delivers(receiver)


def test_megabyte_line_gets_500_and_session_goes_on(receiver):
    with _client(receiver) as client:
        client.reply()
        client.send(b"EHLO " + b"x" * (1 << 20) + b"\r\n")
        too_long = client.reply()
        ehlo = client.command("EHLO sender.test")

    assert too_long.code == 500
    assert ehlo.code == 250
    _control_delivers(receiver)


def test_unknown_command_flood_is_cut_off(receiver):
    with _client(receiver) as client:
        client.reply()
        client.send(b"".join(b"XYZZY %d\r\n" % number for number in range(50)))
        took = client.wait_for_close(IDLE_TIMEOUT + MARGIN)

    assert took is not None and took < IDLE_TIMEOUT, "the receiver answered 50 unknown commands"
    _control_delivers(receiver)


def test_slow_bytes_do_not_extend_the_session(receiver):
    # One byte at a time never completes a command, so the idle timer is
    # never reset and the session ends on time.
    with _client(receiver) as client:
        client.reply()
        client.send(b"E")
        took = client.wait_for_close(IDLE_TIMEOUT + MARGIN)

    assert took is not None
    _control_delivers(receiver)


def test_plaintext_after_starttls_fails_the_handshake(receiver):
    with _client(receiver) as client:
        client.reply()
        client.command("EHLO sender.test")
        ready = client.command("STARTTLS")
        client.send(b"EHLO still-plaintext.test\r\n")
        took = client.wait_for_close(IDLE_TIMEOUT + MARGIN)

    assert ready.code == 220
    assert took is not None
    assert receiver.server.wait_for_event("tls-failed")
    _control_delivers(receiver)


def test_reset_mid_handshake_is_survived(receiver):
    with _client(receiver) as client:
        client.reply()
        client.command("EHLO sender.test")
        client.command("STARTTLS")
        client.send_client_hello_start()
        client.reset()

    _control_delivers(receiver)


# A close at each stage of the dialogue: what the client does before it closes.

def _to_tls(client: MisbehavingClient, mx: str) -> None:
    client.reply()
    client.command("EHLO sender.test")
    client.command("STARTTLS")
    client.start_tls(mx)
    client.command("EHLO sender.test")


def _mail(client: MisbehavingClient, mx: str) -> None:
    _to_tls(client, mx)
    client.send(b"MAIL FROM:<postmaster@sender.test>\r\n")


def _rcpt(client: MisbehavingClient, mx: str) -> None:
    _to_tls(client, mx)
    client.command("MAIL FROM:<postmaster@sender.test>")
    client.send(b"RCPT TO:<postmaster@" + mx.split(".", 1)[1].encode() + b">\r\n")


def _data(client: MisbehavingClient, mx: str) -> None:
    _rcpt(client, mx)
    client.reply()
    client.send(b"DATA\r\n")


def _message(client: MisbehavingClient, mx: str) -> None:
    _data(client, mx)
    client.reply()
    client.send(b"Subject: cut short\r\n\r\nThe sender goes away before the final dot.\r\n")


CLOSE_STAGES: dict[str, Callable[[MisbehavingClient, str], None]] = {
    "banner": lambda client, mx: None,
    "ehlo": lambda client, mx: (client.reply(), client.send(b"EHLO sender.test\r\n")),
    "starttls": lambda client, mx: (client.reply(), client.command("EHLO sender.test"),
                                    client.send(b"STARTTLS\r\n")),
    "handshake": lambda client, mx: (client.reply(), client.command("EHLO sender.test"),
                                     client.command("STARTTLS"), client.send_client_hello_start()),
    "mail": _mail,
    "rcpt": _rcpt,
    "data": _data,
    "message": _message,
}


@pytest.mark.parametrize("stage", list(CLOSE_STAGES))
def test_close_at_each_stage_is_survived(receiver, stage):
    with _client(receiver) as client:
        CLOSE_STAGES[stage](client, receiver.mx)

    _control_delivers(receiver)


def test_busy_client_is_closed_at_session_limit(receiver, monkeypatch):
    # NOOP restarts aiosmtpd's idle timer; only the session limit ends this.
    monkeypatch.setattr(timeouts, "SERVER_SESSION_LIMIT", SESSION_LIMIT)
    replies = []
    with _client(receiver) as client:
        client.reply()
        started = time.monotonic()
        while time.monotonic() - started < SESSION_LIMIT + MARGIN:
            replies.append(client.command("NOOP").code)
            if replies[-1] != 250:
                break
            time.sleep(IDLE_TIMEOUT / 4)
        took = time.monotonic() - started

    assert replies[-1] == 421
    assert set(replies[:-1]) == {250}
    assert took < SESSION_LIMIT + MARGIN
    _control_delivers(receiver)
