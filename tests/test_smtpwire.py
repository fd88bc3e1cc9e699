"""The client's SMTP reply parser."""

from __future__ import annotations

import pytest

from harness.smtpwire import SMTPProtocolError, parse_reply_line


@pytest.mark.parametrize("line, parsed", [
    (b"250 OK", (250, True, "OK")),
    (b"250-STARTTLS", (250, False, "STARTTLS")),
    (b"220", (220, True, "")),
    (b"554 5.7.1 rejected", (554, True, "5.7.1 rejected")),
])
def test_valid_lines(line, parsed):
    assert parse_reply_line(line) == parsed


@pytest.mark.parametrize("line", [b"", b"hello", b"25 OK", b"600 odd", b"250OK", b"\xff\xfe"])
def test_malformed_lines_raise_protocol_error(line):
    with pytest.raises(SMTPProtocolError) as caught:
        parse_reply_line(line)

    assert caught.value.reason == "malformed-reply"
