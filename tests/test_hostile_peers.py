"""The strict client against misbehaving SMTP servers: each case ends in time, classified, bounded.

Every case runs the real client (DNS look-up through the fake DNS server,
real TCP, real TLS where the dialogue gets that far) against one peer from
harness.testing.peers, with short timeouts. Each asserts the failure class,
the reason and the stage, that the attempt ended within the timeout that
governs it, and that the client kept no more than its buffer limit. The
well-behaved dialogue on the same kit is the passing control.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import time
import tracemalloc
from dataclasses import dataclass
from typing import Iterator

import pytest

from harness.client import STRICT, Network, SMTPClient
from harness.dns import Record
from harness.errors import ServerError
from harness.lab import Lab
from harness.outcome import FailureClass, Outcome, Stage, Trust
from harness.pki import CertificateSpec
from harness.smtpwire import MAX_BUFFER, SMTPProtocolError, Wire
from harness.testing import peers
from harness.testing.peers import MisbehavingPeer
from harness.tls import TLSSettings, server_context

C = FailureClass

# Short client timeouts keep the slow cases fast; the margin absorbs a busy
# two-core machine (thread start-up, the DNS look-up and the CRL fetch).
REPLY_TIMEOUT = 1.0
HANDSHAKE_TIMEOUT = 1.0
MARGIN = 2.0

_case_numbers = itertools.count(1)


@dataclass(frozen=True)
class Case:
    """One misbehaviour, what the strict client must report, and the timeout that bounds it."""

    behaviour: peers.Behaviour
    failure_class: FailureClass
    reason: str
    stage: Stage
    budget: float = REPLY_TIMEOUT


CASES = {
    "garbage-banner": Case(peers.garbage_banner(), C.PROTOCOL_ERROR, "malformed-reply", Stage.BANNER),
    "binary-banner": Case(peers.garbage_banner(b"\x00\xff\xfe\x1b[0m\r\n"), C.PROTOCOL_ERROR,
                          "malformed-reply", Stage.BANNER),
    "megabyte-line": Case(peers.huge_reply_line(), C.PROTOCOL_ERROR, "line-too-long", Stage.BANNER),
    "endless-multiline": Case(peers.endless_multiline, C.PROTOCOL_ERROR, "reply-too-long", Stage.EHLO),
    "one-byte-per-second": Case(peers.dribble(interval=1.0), C.PROTOCOL_ERROR, "reply-timeout", Stage.BANNER),
    "malformed-code": Case(peers.malformed_code(), C.PROTOCOL_ERROR, "malformed-reply", Stage.BANNER),
    "four-digit-code": Case(peers.malformed_code(b"2200 mx.peer.test\r\n"), C.PROTOCOL_ERROR,
                            "malformed-reply", Stage.BANNER),
    "mixed-codes": Case(peers.malformed_code(b"220-mx.peer.test\r\n250 ESMTP\r\n"), C.PROTOCOL_ERROR,
                        "malformed-reply", Stage.BANNER),
    "reset-mid-handshake": Case(peers.reset_mid_handshake, C.VALIDATION_FAILURE, "handshake-reset",
                                Stage.HANDSHAKE, HANDSHAKE_TIMEOUT),
    "plaintext-after-starttls": Case(peers.plaintext_after_starttls, C.VALIDATION_FAILURE, "not-tls",
                                     Stage.HANDSHAKE, HANDSHAKE_TIMEOUT),
    "injected-after-ready": Case(peers.injected_after_ready, C.VALIDATION_FAILURE, "starttls-injection",
                                 Stage.STARTTLS),
    "slow-handshake": Case(peers.slow_handshake(interval=0.2), C.STARTTLS_NOT_SUPPORTED, "handshake-timeout",
                           Stage.HANDSHAKE, HANDSHAKE_TIMEOUT),
}

# The cases that end only when a client timeout fires.
SLOW_CASES = ("one-byte-per-second", "slow-handshake")

CLOSE_CASES = {
    "banner": Case(peers.dialogue("banner"), C.PROTOCOL_ERROR, "connection-lost", Stage.BANNER),
    "ehlo": Case(peers.dialogue("ehlo"), C.PROTOCOL_ERROR, "connection-lost", Stage.EHLO),
    "starttls": Case(peers.dialogue("starttls"), C.PROTOCOL_ERROR, "connection-lost", Stage.STARTTLS),
    "handshake": Case(peers.dialogue("handshake"), C.VALIDATION_FAILURE, "handshake-eof", Stage.HANDSHAKE,
                      HANDSHAKE_TIMEOUT),
    "mail": Case(peers.dialogue("mail"), C.PROTOCOL_ERROR, "connection-lost", Stage.MAIL),
    "rcpt": Case(peers.dialogue("rcpt"), C.PROTOCOL_ERROR, "connection-lost", Stage.RCPT),
    "data": Case(peers.dialogue("data"), C.PROTOCOL_ERROR, "connection-lost", Stage.DATA),
    "data-ready": Case(peers.dialogue("data-ready"), C.PROTOCOL_ERROR, "connection-lost", Stage.DATA),
    "message": Case(peers.dialogue("message"), C.PROTOCOL_ERROR, "connection-lost", Stage.DATA),
}


# Fixtures: a certificate for each peer and DNS records that point its domain at it.

@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as started:
        yield started


@contextlib.contextmanager
def _peer_host(lab: Lab, behaviour: peers.Behaviour) -> Iterator[tuple[MisbehavingPeer, str, Network]]:
    """Start a peer for a fresh domain, publish its MX and A records, and yield it with the recipient."""
    domain = f"peer-{next(_case_numbers)}.hostile.test"
    mx = f"mx.{domain}"
    assert lab.pki is not None
    issued = lab.pki.issue(CertificateSpec().resolve(mx, domain))
    context = server_context(TLSSettings(), str(issued.certfile), str(issued.keyfile))
    with MisbehavingPeer(behaviour, hostname=mx, tls_context=context) as peer:
        records = [Record(domain, "MX", f"10 {mx}"), Record(mx, "A", peer.address)]
        lab.zone.add(records)
        try:
            yield peer, f"postmaster@{domain}", Network((lab.dns.address, lab.dns.port), {peer.address: peer.port})
        finally:
            lab.zone.remove(records)


def _deliver(lab: Lab, network: Network, recipient: str) -> tuple[Outcome, float]:
    client = SMTPClient(network, lab.cafile, STRICT, reply_timeout=REPLY_TIMEOUT,
                        handshake_timeout=HANDSHAKE_TIMEOUT)
    started = time.monotonic()
    outcome = client.deliver(recipient)
    return outcome, time.monotonic() - started


def _check(case: Case, outcome: Outcome, elapsed: float) -> None:
    assert outcome.failure_class is case.failure_class, outcome.error
    assert outcome.reason == case.reason, outcome.error
    assert outcome.stage is case.stage, outcome.error
    assert outcome.error, "a failed attempt must carry its error message"
    assert elapsed < case.budget + MARGIN, f"took {elapsed:.2f} s, the timeout is {case.budget} s"


# The cases

@pytest.mark.parametrize("name", list(CASES))
def test_hostile_peer_is_classified_in_time(lab, name):
    case = CASES[name]

    with _peer_host(lab, case.behaviour) as (peer, recipient, network):
        outcome, elapsed = _deliver(lab, network, recipient)

    _check(case, outcome, elapsed)
    assert outcome.mx_address == peer.address


@pytest.mark.parametrize("stage", list(CLOSE_CASES))
def test_close_at_each_stage_is_classified(lab, stage):
    case = CLOSE_CASES[stage]

    with _peer_host(lab, case.behaviour) as (peer, recipient, network):
        outcome, elapsed = _deliver(lab, network, recipient)

    _check(case, outcome, elapsed)
    assert len(peer.connections) == 1


def test_close_while_message_is_sent_is_classified(lab):
    # Four megabytes fill the socket buffers, so the client is still writing
    # when the peer closes without reading: the write itself fails (a reset).
    message = b"Subject: large\r\n\r\n" + (b"y" * 998 + b"\r\n") * 4200

    with _peer_host(lab, peers.dialogue("data-ready")) as (_, recipient, network):
        client = SMTPClient(network, lab.cafile, STRICT, reply_timeout=REPLY_TIMEOUT,
                            handshake_timeout=HANDSHAKE_TIMEOUT)
        outcome = client.deliver(recipient, message=message)

    assert outcome.failure_class is C.PROTOCOL_ERROR
    assert outcome.reason == "connection-lost"
    assert outcome.stage is Stage.DATA


def test_close_stages_cover_the_dialogue():
    assert tuple(CLOSE_CASES) == peers.CLOSE_STAGES


def test_healthy_dialogue_delivers_verified(lab):
    with _peer_host(lab, peers.dialogue()) as (peer, recipient, network):
        outcome, _ = _deliver(lab, network, recipient)

    assert outcome.failure_class is C.DELIVERED, outcome.error
    assert outcome.trust is Trust.VERIFIED
    assert outcome.reply is not None and outcome.reply.code == 250
    assert [command.split(":")[0] for command in peer.connections[0].commands] == [
        "EHLO outbound.harness.test", "STARTTLS", "EHLO outbound.harness.test", "MAIL FROM", "RCPT TO",
        "DATA", "QUIT"]


def test_cases_in_a_row_then_delivery(lab):
    # One client meets every misbehaviour in turn; nothing it left behind
    # stops the healthy host at the end from receiving the message.
    for name, case in {**CASES, **CLOSE_CASES}.items():
        if name in SLOW_CASES:
            continue  # they have their own tests
        with _peer_host(lab, case.behaviour) as (_, recipient, network):
            outcome, _ = _deliver(lab, network, recipient)
        assert (outcome.failure_class, outcome.reason) == (case.failure_class, case.reason), name

    with _peer_host(lab, peers.dialogue()) as (_, recipient, network):
        outcome, _ = _deliver(lab, network, recipient)

    assert outcome.delivered, outcome.error


# Memory stays bounded

def test_megabyte_line_keeps_buffer_within_limit(lab):
    with MisbehavingPeer(peers.huge_reply_line()) as peer:
        sock = socket.create_connection((peer.address, peer.port), timeout=REPLY_TIMEOUT)
        wire = Wire(sock, REPLY_TIMEOUT)
        with sock, pytest.raises(SMTPProtocolError) as caught:
            wire.read_reply("the banner")

    assert caught.value.reason == "line-too-long"
    assert 0 < wire.peak_buffer <= MAX_BUFFER


def test_megabyte_line_allocates_little(lab):
    case = CASES["megabyte-line"]

    with _peer_host(lab, case.behaviour) as (_, recipient, network):
        tracemalloc.start()
        try:
            outcome, _ = _deliver(lab, network, recipient)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert outcome.reason == "line-too-long"
    # The peer sends 1 MiB; the client's whole attempt stays far below that.
    assert peak < 256 * 1024, f"the attempt allocated up to {peak} bytes"


def test_endless_multiline_keeps_transcript_bounded(lab):
    with _peer_host(lab, peers.endless_multiline) as (_, recipient, network):
        outcome, _ = _deliver(lab, network, recipient)

    assert outcome.reason == "reply-too-long"
    assert sum(len(line) for line in outcome.transcript) < 64 * 1024


# The kit itself

def test_peer_stops_at_once_while_client_still_connected():
    with MisbehavingPeer(peers.dribble(interval=60.0)) as peer:
        sock = socket.create_connection((peer.address, peer.port), timeout=REPLY_TIMEOUT)
        first = sock.recv(1)
        started = time.monotonic()
    elapsed = time.monotonic() - started
    sock.close()

    assert first == b"2"
    assert elapsed < MARGIN


def test_peer_reraises_a_broken_script():
    def broken(peer: peers.PeerConnection) -> None:
        peer.greet()
        peer.expect("EHLO")

    with pytest.raises(ServerError) as caught:
        with MisbehavingPeer(broken) as peer:
            with socket.create_connection((peer.address, peer.port), timeout=REPLY_TIMEOUT) as sock:
                sock.recv(100)
                sock.sendall(b"HELO wrong.test\r\n")
                sock.recv(100)  # the peer closes after its script fails

    assert isinstance(caught.value.__cause__, peers.PeerScriptError)


def test_invalid_close_stage_is_rejected():
    with pytest.raises(ValueError) as caught:
        peers.dialogue("helo")

    assert "use one of banner" in str(caught.value)
