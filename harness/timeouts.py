"""Every network wait of the harness, in seconds, in one place.

Real MTAs wait minutes (RFC 5321 section 4.5.3.2 suggests 5 minutes for the
greeting and most replies). The harness talks to servers on loopback that
answer in milliseconds, so it waits seconds: long enough never to fire on a
healthy but busy machine, short enough that a hanging peer costs little.
"""

# TCP connect to an MX address. Loopback either accepts or refuses at once.
CONNECT_TIMEOUT = 5.0

# Waiting for one complete SMTP reply (banner, EHLO, MAIL, RCPT, DATA, QUIT).
REPLY_TIMEOUT = 5.0

# The TLS handshake after "220 ready to start TLS". A server that says 220 and
# then goes silent is the starttls-hangs failure; this is how long we wait.
HANDSHAKE_TIMEOUT = 5.0

# A scenario file may shorten REPLY_TIMEOUT, HANDSHAKE_TIMEOUT and
# REVOCATION_FETCH_TIMEOUT for its own client (client.reply_timeout,
# client.handshake_timeout, client.revocation_timeout), down to 0.05 s.

# One DNS query to the fake DNS server, retries included (dnspython lifetime).
DNS_TIMEOUT = 3.0

# Fetching a CRL or an OCSP response from the simulated PKI repository.
REVOCATION_FETCH_TIMEOUT = 3.0

# A server thread or event loop becoming ready to accept connections.
SERVER_START_TIMEOUT = 10.0

# A server thread or event loop stopping and joining.
SERVER_STOP_TIMEOUT = 10.0

# Waiting for a server's thread to record what it saw (a TLS failure, a message)
# after the client has already finished its side.
SERVER_EVENT_TIMEOUT = 5.0

# How long a test server keeps an idle client before closing (aiosmtpd timeout).
SERVER_IDLE_TIMEOUT = 30.0

# The longest one session may last in total. aiosmtpd restarts its idle timer
# on every command, so a client that sends NOOP just inside SERVER_IDLE_TIMEOUT
# could otherwise hold a session open for ever (Exchange's receive connectors
# bound the same thing with their ConnectionTimeout setting).
SERVER_SESSION_LIMIT = 600.0

# Subprocesses of third-party tools (openssl s_client, swaks) in cross-checks.
TOOL_TIMEOUT = 20.0

# After a client's attempt ends, waiting for the server to close its side of
# the session, so the server's log (TLS failure, rejection) is complete.
SESSION_SETTLE_TIMEOUT = 5.0

# Fetching an MTA-STS policy over HTTPS from the loopback policy host, connect and read.
POLICY_FETCH_TIMEOUT = 5.0

# Each network wait of `smtp-harness probe` (connect, one reply, one handshake,
# one DNS query) when the user gives no --timeout. Real hosts on the Internet
# answer slower than loopback, and a probe makes about ten short connections.
PROBE_TIMEOUT = 10.0

# The largest --timeout the probe takes. A wait longer than an hour is a
# typo, and the thread joins of a probe cannot wait for an infinite one.
PROBE_TIMEOUT_MAX = 3600.0

# A misbehaving test peer (harness.testing.peers) waiting for the client's
# next command or its ClientHello. The client under test sends at once, so
# this fires only when the client itself hangs.
PEER_READ_TIMEOUT = 5.0
