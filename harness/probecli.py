"""The ``smtp-harness probe`` subcommand: its options, its output and its exit codes.

Kept apart from ``cli`` so the main command line only registers it.
"""

from __future__ import annotations

import argparse
import ipaddress

from . import helpformat, timeouts
from .errors import ConfigurationError
from .lessonindex import load_lesson_index
from .probe import EXIT_CODES, Mode, ProbeConfig, Verdict, probe, render_text

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py
if TYPE_CHECKING:
    from typing import TextIO

    from .findings import LessonSource

PROBE_EPILOG = """\
exit status:
  0  Outlook.com-compatible: no finding of severity error
  1  would be refused: a strict sender (Outlook.com with TLS enforced) refuses the host
  2  usage error (bad option or value)
  3  could not connect: DNS failed, or no SMTP greeting from the address
  with --domain, every MX host and address is probed and the worst result counts

examples (the lab's hosts, from `smtp-harness serve SLUG`):
  smtp-harness probe mx.broken.self-signed.test:2525 --resolver 127.0.0.53:5353 --cafile ca.pem
  smtp-harness probe --domain broken.tls10-only.test --port 2525 --resolver 127.0.0.53:5353 --cafile ca.pem
"""

DEFAULT_PORTS = {Mode.STARTTLS: 25, Mode.IMPLICIT: 465}


def add_probe_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``probe`` on the main parser's subcommands."""
    parser = commands.add_parser(
        "probe", help="diagnose one mail host as Outlook.com sees it, naming every problem and its lesson",
        description="Probe a mail host: a strict attempt like Exchange Online with TLS enforced, then relaxed "
                    "re-probes (each TLS version, Microsoft's suites, the chain with and without SNI, dates, "
                    "names, keys, signatures, CRL/OCSP, STARTTLS, reverse DNS). It connects only to the "
                    "host you name, or to the MX of the domain you name. It sends no message.",
        epilog=PROBE_EPILOG, formatter_class=helpformat.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", metavar="TARGET", help="host[:port] or address[:port] to probe")
    parser.add_argument("--domain", metavar="DOMAIN", help="probe every MX host of this mail domain instead of TARGET")
    parser.add_argument("--port", type=_port_option, default=None,
                        help="SMTP port (default: 25 with STARTTLS, 465 with --mode implicit)")
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.STARTTLS.value,
                        help="starttls (ports 25 and 587) or implicit TLS (port 465); default: starttls")
    parser.add_argument("--cafile", metavar="FILE", help="PEM trust store (default: the system store, as a real sender uses)")
    parser.add_argument("--sni", metavar="NAME", help="server name to send and verify (default: the MX or host name)")
    parser.add_argument("--ehlo", default=None, metavar="NAME", help="name to give in EHLO")
    parser.add_argument("--resolver", metavar="ADDRESS[:PORT]", help="DNS server to ask (default: the system's)")
    parser.add_argument("--timeout", type=float, default=timeouts.PROBE_TIMEOUT, metavar="SECONDS",
                        help="bound on each network wait (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def config_from_args(args: argparse.Namespace) -> ProbeConfig:
    """Turn the options into a ProbeConfig; a bad value raises ConfigurationError naming it."""
    mode = Mode(args.mode)
    host, port = None, args.port
    if args.target:
        host, target_port = split_host_port(args.target, "TARGET")
        if port is not None and target_port is not None and port != target_port:
            raise ConfigurationError(f"TARGET {args.target!r} names port {target_port} but --port is {port}; "
                                     "give the port once")
        port = port or target_port
    if args.sni is not None and not args.sni.strip():
        raise ConfigurationError("--sni is empty; give the server name to send and verify, such as the MX host name")
    values: dict[str, object] = {}
    if args.ehlo:
        values["ehlo"] = args.ehlo
    return ProbeConfig(host=host, domain=args.domain, port=port or DEFAULT_PORTS[mode], mode=mode,
                       cafile=args.cafile, sni=args.sni,
                       resolver=_resolver(args.resolver) if args.resolver else None,
                       timeout=args.timeout, **values)  # type: ignore[arg-type]


def split_host_port(text: str, what: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, _port(rest.lstrip(":"), what, text) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port, what, text)
    return text, None


def _port(text: str, what: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"{what} {whole!r}: invalid port {text!r}; expected 1 to 65535")
    return int(text)


def _resolver(text: str) -> tuple[str, int]:
    host, port = split_host_port(text, "--resolver")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigurationError(f"--resolver {text!r}: {host!r} is not an IP address; give the DNS "
                                 "server as ADDRESS[:PORT], such as 127.0.0.53:5353") from None
    return host, port or 53


def _port_option(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 1 to 65535")
    return int(text)


def cmd_probe(args: argparse.Namespace, out: TextIO, lessons: LessonSource | None = None) -> int:
    """Probe the target; ``lessons`` defaults to the quick index of the catalog (or of --catalog)."""
    config = config_from_args(args)
    if config.cafile is not None:
        try:
            open(config.cafile, "rb").close()
        except OSError as error:
            raise ConfigurationError(f"--cafile {config.cafile}: cannot be read ({error.strerror}); "
                                     "give a PEM file of trusted roots") from error
    if lessons is None:
        lessons = load_lesson_index(getattr(args, "catalog", None))
    report = probe(config, lessons)
    if args.json:
        import json  # only for --json: a cold probe saves its import otherwise

        print(json.dumps(report.to_dict()), file=out)
    else:
        print(render_text(report, sessions=bool(getattr(args, "verbose", 0))), file=out)
    return EXIT_CODES[report.verdict]


__all__ = ["add_probe_parser", "cmd_probe", "Verdict"]
