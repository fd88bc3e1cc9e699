"""The ``smtp-harness`` command: list, run, explain and serve the scenario catalog.

``main(argv)`` is callable in-process, returns the exit status and prints
errors as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import os
import signal
import sys
import threading
import time

from . import __version__, helpformat
from .errors import ConfigurationError, HarnessError
from .loopback import is_loopback
from .probecli import add_probe_parser, cmd_probe

TYPE_CHECKING = False  # typing's constant without importing typing; see harness/console.py

# The servers, the PKI and the policy engine are imported by the commands
# that use them: `probe` needs none of them, and a cold start is most of its
# run time.
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator, Sequence, TextIO

    from .catalog import Catalog
    from .lab import Lab
    from .outcome import Outcome
    from .runner import VariantResult
    from .scenario import Scenario

EXIT_OK = 0
EXIT_MISMATCH = 1  # an observed outcome differs from the expected one
EXIT_USAGE = 2  # bad option, unknown scenario, invalid scenario file

# Signals that end a command the way Ctrl-C does, so the lab cleans up.
TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

# Commands that start no server, so they have no log to set up and no lab
# to clean up on SIGTERM, and their process may end without the
# interpreter's teardown (see ``main``). probe is one, and people time it.
SERVERLESS_COMMANDS = frozenset({"probe"})

PROFILE_TITLES = {
    "strict": "strict sender (Exchange Online with TLS enforced)",
    "opportunistic": "opportunistic sender (default MTA behaviour, no verification)",
    "sender": "your sending MTA, as the variant sets it up, to the Outlook.com-like receiver",
    "policy": "policy-aware sender (Exchange Online default: MTA-STS and DANE applied)",
}

# explain: which runs show a scenario. With the strict receiver, the sender
# is the variant itself, so there is no second profile to compare.
MX_RUNS = (("broken", "strict"), ("broken", "opportunistic"), ("fixed", "strict"))
STRICT_RECEIVER_RUNS = (("broken", "sender"), ("fixed", "sender"))
# A policy scenario's own sender is the policy-aware one, in place of the strict sender.
POLICY_RUNS = (("broken", "policy"), ("broken", "opportunistic"), ("fixed", "policy"))


def build_parser() -> argparse.ArgumentParser:
    parser = helpformat.ArgumentParser(
        prog="smtp-harness",
        description="Reproduce on loopback each way a mail host's TLS makes a strict peer like "
                    "Outlook.com fail, and prove each fix.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_options(parser, verbose=0, catalog=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="show the catalog, grouped")

    run = commands.add_parser("run", help="run broken and fixed variants and print a table")
    run.add_argument("slugs", nargs="*", metavar="SLUG", help="scenarios to run (default: all)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object per variant and line instead of the table")
    run.add_argument("--workers", type=_positive_int, default=None,
                     help="variants run at the same time in each process (default: 4 per core, "
                          "from 2 to 16; 1 runs them in order)")
    run.add_argument("--tlsrpt", type=_path, metavar="FILE",
                     help="write an RFC 8460 TLS-RPT aggregate report of the policy sessions to FILE")
    run.add_argument("--processes", type=_positive_int, default=None,
                     help="processes that share the variants, each with its own lab and --workers threads "
                          "(default: one per core for catalogs of 16 variants or more; 1 runs in this process)")

    explain = commands.add_parser("explain", help="show a scenario's lesson with its broken and fixed runs")
    explain.add_argument("slug", metavar="SLUG", help="the scenario to explain (see smtp-harness list)")

    serve = commands.add_parser("serve", help="keep a scenario's host and DNS running on loopback")
    serve.add_argument("slug", metavar="SLUG", help="the scenario whose host to serve (see smtp-harness list)")
    serve.add_argument("--variant", choices=("broken", "fixed"), default="broken",
                       help="which set-up to serve (default: broken)")
    serve.add_argument("--duration", type=_positive_float, default=None, metavar="SECONDS",
                       help="stop after this many seconds (default: run until Ctrl-C)")
    serve.add_argument("--listen", type=_ipv4_address, default=None, metavar="ADDRESS",
                       help="IPv4 address of the SMTP server (default: a fresh address in 127.0.0.0/8); "
                            "an address outside loopback exposes the broken host to other machines")

    add_probe_parser(commands)
    # The common options work after the command too ("run -v"); there they
    # have no default, so they do not undo one given before the command.
    for command in commands.choices.values():
        _add_common_options(command, verbose=argparse.SUPPRESS, catalog=argparse.SUPPRESS)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, verbose: object, catalog: object) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=verbose,
                        help="log lifecycle events (-v) or every SMTP line (-vv) to stderr; "
                             "with probe, list every session it made and its result")
    parser.add_argument("--catalog", type=_path, default=catalog, metavar="DIR",
                        help="read scenario files from DIR (one sub-folder per group; files directly in DIR "
                             "form the group 'ungrouped') instead of the catalog installed with the package")


def _path(text: str) -> Path:
    from pathlib import Path  # here, so that a cold probe does not import pathlib

    return Path(text)


def _ipv4_address(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid address {text!r}: expected an IPv4 address such as "
                                         "127.0.0.1") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: expected a whole number such as 4") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {value}: expected 1 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: expected seconds such as 30") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {value}: expected more than 0 seconds")
    return value


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, exit_after: bool = False) -> int:
    """Run the command line; return the exit status.

    With ``exit_after`` (the installed command), a command in
    SERVERLESS_COMMANDS ends the process itself once its output is flushed,
    with ``os._exit``. Such a command leaves no thread running, no file open
    and no exit handler registered, so the interpreter's teardown of every
    imported module would only delay the exit, by about 3 ms of a cold probe.
    """
    stream = out or sys.stdout
    args = build_parser().parse_args(argv)
    serverless = args.command in SERVERLESS_COMMANDS
    if not serverless:
        _configure_logging(args.verbose)  # importing logging alone costs a cold probe about 5 ms
    status = _run_command(args, stream, serverless)
    if exit_after and serverless:
        _exit_at_once(status)
    return status


def _exit_at_once(status: int) -> None:
    """Flush the output and end the process with ``status``, skipping the interpreter's teardown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader (``| head``) went away; there is nothing left to tell it
    sys.stderr.flush()
    os._exit(status)


def _run_command(args: argparse.Namespace, stream: TextIO, serverless: bool) -> int:
    try:
        with contextlib.nullcontext() if serverless else _interrupt_on_termination():
            return COMMANDS[args.command](args, stream)
    except HarnessError as error:
        print(f"smtp-harness: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (``| head``) went away. Point stdout at /dev/null so the
        # interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


@contextlib.contextmanager
def _interrupt_on_termination() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt while a command runs.

    Their default action ends the process at once, which would leave the
    lab's private keys in the temporary folder; as KeyboardInterrupt they
    unwind through ``with Lab()``, which removes them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {number: signal.signal(number, _raise_interrupt) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _raise_interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(number).name)


def _configure_logging(verbosity: int) -> None:
    import logging

    level = {0: logging.ERROR, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    # aiosmtpd logs every SMTP line at INFO; show those only at -vv.
    # It also warns about every garbled command, which scenarios such as
    # implicit-tls-on-submission-port send on purpose, so it stays quiet by default.
    mail_level = {0: logging.ERROR, 1: logging.WARNING}.get(verbosity, logging.DEBUG)
    logging.getLogger("mail.log").setLevel(mail_level)


def _load_catalog(args: argparse.Namespace) -> Catalog:
    """Load the installed catalog, or the folder given with --catalog."""
    from .catalog import load_catalog

    if args.catalog is not None:
        if not args.catalog.is_dir():
            raise ConfigurationError(f"--catalog {args.catalog}: not a folder; give a folder of scenario "
                                     "files such as the repository's scenarios/")
        if not any(args.catalog.rglob("*.toml")):
            raise ConfigurationError(f"--catalog {args.catalog}: no scenario files (*.toml) in this folder "
                                     "or its group folders")
    return load_catalog(args.catalog)


def _report_catalog_errors(catalog: Catalog) -> None:
    for error in catalog.errors:
        print(f"smtp-harness: skipped invalid scenario file: {error}", file=sys.stderr)


# list

def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    catalog = _load_catalog(args)
    _report_catalog_errors(catalog)
    width = max((len(s.slug) for s in catalog.scenarios), default=10)
    group = None
    for scenario in catalog.scenarios:
        if scenario.group != group:
            group = scenario.group
            print(f"\n{group}", file=out)
        print(f"  {scenario.slug:<{width}}  {scenario.direction.value:<9}  {scenario.title}", file=out)
    print(f"\n{len(catalog.scenarios)} scenarios in {len({s.group for s in catalog.scenarios})} groups",
          file=out)
    return EXIT_USAGE if catalog.errors else EXIT_OK


# run

def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from . import tlsrpt
    from .parallel import run_catalog
    from .runner import default_workers

    if args.tlsrpt is not None and str(args.tlsrpt) == "-":
        raise ConfigurationError("--tlsrpt -: standard output carries the run table; give a file name "
                                 "for the TLS-RPT report, such as tlsrpt.json")
    catalog = _load_catalog(args)
    _report_catalog_errors(catalog)
    scenarios = catalog.select(args.slugs)
    started = time.perf_counter()
    begun = datetime.datetime.now(datetime.timezone.utc)
    results = run_catalog(scenarios, workers=args.workers or default_workers(), processes=args.processes)
    elapsed = time.perf_counter() - started
    if args.tlsrpt is not None:
        sessions = tlsrpt.session_results(r.outcome for r in results)
        if not sessions:
            print("smtp-harness: note: no policy sessions in this run (only the policy group's scenarios "
                  "send with the policy sender), so the TLS-RPT report lists no policies", file=sys.stderr)
        report = tlsrpt.build_report(sessions, begun, datetime.datetime.now(datetime.timezone.utc))
        tlsrpt.write_report(report, args.tlsrpt)
    if args.json:
        import json  # here, so that a cold probe does not pay for it

        for result in results:
            print(json.dumps(result.to_dict()), file=out)
    else:
        print_table(results, out)
        print(_summary(results, elapsed), file=out)
    if catalog.errors:
        return EXIT_USAGE  # as documented: an invalid scenario file is a usage error, even beside mismatches
    if any(not r.ok and not r.skipped for r in results):
        return EXIT_MISMATCH
    return EXIT_OK


def print_table(results: list[VariantResult], out: TextIO) -> None:
    headers = ("scenario", "direction", "variant", "expected", "observed", "ok")
    rows = [
        (r.scenario.slug, r.scenario.direction.value, r.variant.name, r.expectation.label, _observed(r), r.status)
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
    for result in results:
        for problem in result.problems:
            print(f"  {result.scenario.slug} {result.variant.name}: {problem}", file=out)
        if result.skipped:
            print(f"  {result.scenario.slug} {result.variant.name}: skipped: {result.skipped}", file=out)
        if result.error:
            print(f"  {result.scenario.slug} {result.variant.name}: harness error: {result.error}", file=out)


def _observed(result: VariantResult) -> str:
    if result.outcome is not None:
        return result.outcome.label
    return "-" if result.skipped else "error"


def _summary(results: list[VariantResult], elapsed: float) -> str:
    ok = sum(r.ok for r in results)
    skipped = sum(bool(r.skipped) for r in results)
    failed = len(results) - ok - skipped
    return f"\n{len(results)} variants: {ok} ok, {failed} failed, {skipped} skipped in {elapsed:.2f} s"


# explain

def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    from .lab import Lab

    scenario = _load_catalog(args).get(args.slug)
    print_lesson(scenario, out)
    with Lab() as lab:
        for variant_name, profile in _explain_runs(scenario):
            with lab.host(scenario, variant_name) as host:
                outcome = host.deliver(profile=profile)
                events = list(host.server.events) if host.server else []
            print(f"\n== {variant_name} variant, {PROFILE_TITLES[profile]}", file=out)
            print_outcome(outcome, out)
            if scenario.strict_receiver:
                continue  # the receiver's log is already part of the transcript
            for event in events:
                if event.kind == "tls-failed":
                    print(f"   server log: {event.peer} TLS handshake failed: {event.detail}", file=out)
    return EXIT_OK


def _explain_runs(scenario: Scenario) -> tuple[tuple[str, str], ...]:
    if scenario.strict_receiver:
        return STRICT_RECEIVER_RUNS
    return POLICY_RUNS if scenario.broken.profile == "policy" else MX_RUNS


def print_lesson(scenario: Scenario, out: TextIO) -> None:
    lesson = scenario.lesson
    print(f"{scenario.slug}: {scenario.title}  [{scenario.group}, {scenario.direction}]", file=out)
    print(_wrap(scenario.summary, ""), file=out)
    sections = [("What you see", lesson.symptoms), ("Why", lesson.cause), ("How to fix it", lesson.fix),
                ("What Outlook.com does", lesson.outlook), ("What Postfix logs", lesson.postfix)]
    for heading, text in sections:
        if text:
            print(f"\n{heading}\n{_wrap(text, '  ')}", file=out)
    if lesson.sources:
        print("\nSources", file=out)
        for source in lesson.sources:
            print(f"  - {source}", file=out)


def print_outcome(outcome: Outcome, out: TextIO) -> None:
    for line in outcome.transcript:
        print(f"   {line}", file=out)
    if outcome.policy is not None:
        policy = outcome.policy
        result = policy.result_type or "success"
        print(f"   TLS-RPT: policy-type {policy.policy_type}, result {result}"
              + (f" ({policy.reason})" if policy.reason else ""), file=out)
    if outcome.delivered:
        channel = f"{outcome.protocol} {outcome.cipher}" if outcome.protocol else "plaintext"
        print(f"   result: delivered over {channel} (trust: {outcome.trust})", file=out)
        return
    details = [f"stage {outcome.stage}"]
    if outcome.verify_code is not None:
        details.append(f"verify code {outcome.verify_code}")
    if outcome.alert:
        details.append(f"alert {outcome.alert}")
    if outcome.reply:
        details.append(f"reply {outcome.reply.code}")
    print(f"   result: {outcome.label} ({', '.join(details)})", file=out)
    print(f"   error:  {outcome.error}", file=out)


def _wrap(text: str, indent: str) -> str:
    import textwrap

    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(textwrap.fill(p, 92, initial_indent=indent, subsequent_indent=indent) for p in paragraphs)


# serve

def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from .lab import Lab

    scenario = _load_catalog(args).get(args.slug)
    outside_loopback = args.listen is not None and not is_loopback(args.listen)
    if outside_loopback:
        _warn_outside_loopback(args.listen)
    stop = threading.Event()
    try:
        with Lab() as lab, lab.host(scenario, args.variant, args.listen, outside_loopback) as host:
            if scenario.strict_receiver:
                print_receiver_banner(scenario, args.variant, lab, host, out)
            else:
                print_serve_banner(scenario, args.variant, lab, host, out)
            out.flush()
            stop.wait(args.duration)
    except KeyboardInterrupt:
        pass
    print("stopped; the lab's keys and certificates are removed", file=out)
    return EXIT_OK


def _warn_outside_loopback(address: str) -> None:
    print(f"smtp-harness: warning: --listen {address} is outside loopback: other machines can reach this "
          "deliberately broken mail server while it runs. Use it only on a network you control; leave out "
          "--listen to stay on 127.0.0.0/8.", file=sys.stderr)


def print_serve_banner(scenario: Scenario, variant: str, lab: Lab, host, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    where = host.address
    dns_address, dns_port = lab.dns.address, lab.dns.port
    print(f"serving {scenario.slug} ({variant}): {scenario.title}", file=out)
    print(f"  mail domain   {where.domain}", file=out)
    print(f"  MX host       {where.mx}", file=out)
    # An implicit-TLS host handshakes before its banner, so the client commands drop STARTTLS.
    from .smtpserver import StartTLS

    implicit = host.variant.starttls is StartTLS.IMPLICIT_TLS
    mode = "implicit TLS, no STARTTLS" if implicit else "STARTTLS"
    print(f"  SMTP server   {where.address} port {where.port} ({mode})", file=out)
    if host.second_server is not None:
        second = host.second_server
        print(f"  second MX     {host.second_mx} at {second.address} port {second.port} "
              f"(preference {host.variant.second_mx.preference}; {where.mx} has 10)", file=out)
    print(f"  DNS server    {dns_address} port {dns_port} (UDP and TCP)", file=out)
    if host.policy_host is not None:
        print(f"  MTA-STS host  {host.policy_host.address} port {host.policy_host.port} "
              f"(HTTPS, mta-sts.{where.domain})", file=out)
    print(f"  CA file       {lab.cafile}  (the simulated public root; trust only this)", file=out)
    print("\ntry it with third-party clients:", file=out)
    starttls_option = "" if implicit else "-starttls smtp "
    swaks_tls = "--tls-on-connect" if implicit else "--tls"
    mx_hosts = [(where.mx, where.address, where.port)]
    if host.second_server is not None:
        mx_hosts.insert(0, (host.second_mx, host.second_server.address, host.second_server.port))
    for name, address, port in mx_hosts:
        print(f"  openssl s_client {starttls_option}-connect {address}:{port} -servername {name} "
              f"-CAfile {lab.cafile} -verify_return_error -verify_hostname {name}", file=out)
        print(f"  swaks --to postmaster@{where.domain} --server {address} --port {port} {swaks_tls} "
              f"--tls-verify --tls-ca-path {lab.cafile} --tls-sni {name}", file=out)
    print(f"  dig @{dns_address} -p {dns_port} MX {where.domain}", file=out)
    _print_broken_client(host, implicit, where, out)
    probe_mode = " --mode implicit" if implicit else ""
    print("\ndiagnose it with probe:", file=out)
    print(f"  smtp-harness probe {where.address}:{where.port} --sni {where.mx}{probe_mode} "
          f"--resolver {dns_address}:{dns_port} --cafile {lab.cafile}", file=out)
    if host.second_server is not None:
        # Each simulated MX listens on its own port, so --domain (one port for
        # every MX) cannot reach both; probe each MX by its address.
        second = host.second_server
        print(f"  smtp-harness probe {second.address}:{second.port} --sni {host.second_mx}{probe_mode} "
              f"--resolver {dns_address}:{dns_port} --cafile {lab.cafile}", file=out)
    print("\nready; press Ctrl-C to stop (SIGTERM from scripts)", file=out)


def _print_broken_client(host, implicit: bool, where, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    """Show how to reproduce a scenario whose broken side is the client's TLS mode, not the server."""
    from .client import TLSMode

    wants_implicit = host.variant.client.tls_mode is TLSMode.IMPLICIT
    if wants_implicit == implicit:
        return
    print("\nthe broken client of this scenario (its TLS mode does not match the port):", file=out)
    if wants_implicit:
        print(f"  openssl s_client -connect {where.address}:{where.port} -servername {where.mx}"
              "   (TLS at once on a STARTTLS port: wrong version number)", file=out)
        print(f"  swaks --to postmaster@{where.domain} --server {where.address} --port {where.port} --tlsc", file=out)
    else:
        print(f"  swaks --to postmaster@{where.domain} --server {where.address} --port {where.port} --tls"
              "   (plaintext on an implicit-TLS port: no banner arrives)", file=out)


def print_receiver_banner(scenario: Scenario, variant: str, lab: Lab, host, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    """Tell the admin how to send to the strict receiver from the variant's source address."""
    from .receiver import DNSBL_ZONE, dnsbl_query_name

    where, settings, source = host.address, host.settings, host.source_address
    dns_address, dns_port = lab.dns.address, lab.dns.port
    ipv6 = ":" in source
    print(f"serving {scenario.slug} ({variant}): {scenario.title}", file=out)
    print("  direction       sending: your MTA (or swaks) sends to an Outlook.com-like receiver", file=out)
    print(f"  receiver MX     {where.mx} for mail domain {where.domain}", file=out)
    print(f"  SMTP server     {where.address} port {where.port} (STARTTLS required before MAIL FROM)", file=out)
    print(f"  source address  {source}  (send from here: PTR {settings.ptr.value}, "
          f"block list {settings.dnsbl.value}, name {host.sender_name})", file=out)
    print(f"  DNS server      {dns_address} port {dns_port} (UDP and TCP; holds the PTR and block-list zone)",
          file=out)
    print(f"  CA file         {lab.cafile}  (the simulated public root, if your MTA verifies the MX)", file=out)
    swaks = (f"swaks --server {where.address} --port {where.port} --local-interface {source} "
             f"--helo {host.sender_name} --from postmaster@{host.sender_name} --to postmaster@{where.domain}")
    print("\nsend to it with swaks (--tls issues STARTTLS; without it the receiver answers 451 5.7.3):", file=out)
    print(f"  {swaks} --tls", file=out)
    print(f"  {swaks}", file=out)
    print("\nor point a real MTA at it, for example Postfix:", file=out)
    bind = "smtp_bind_address6" if ipv6 else "smtp_bind_address"
    nexthop = f"[ipv6:{where.address}]:{where.port}" if ipv6 else f"[{where.address}]:{where.port}"
    print(f"  {bind} = {source}", file=out)
    print(f"  transport_maps entry:  {where.domain}  smtp:{nexthop}", file=out)
    print("\nwhat the receiver looks up:", file=out)
    print(f"  dig @{dns_address} -p {dns_port} -x {source}", file=out)
    print(f"  dig @{dns_address} -p {dns_port} A {dnsbl_query_name(source, DNSBL_ZONE)}", file=out)
    print("\nready; press Ctrl-C to stop", file=out)


COMMANDS = {"list": cmd_list, "run": cmd_run, "explain": cmd_explain, "serve": cmd_serve}
COMMANDS["probe"] = cmd_probe
