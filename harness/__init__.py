"""smtp-tls-harness: reproduce, offline on loopback, each way a mail host's TLS fails a strict peer."""

__version__ = "0.1.0"
