"""The lab: everything a run shares (PKI, PKI repository, DNS, event loop) and the hosts it starts.

Starting those parts costs a few milliseconds each and they are safe to
share: each simulated host gets its own domain (``<variant>.<slug>.test``),
its own loopback address and its own DNS records, so variants run side by
side without seeing each other.
"""

from __future__ import annotations

import logging
from typing import Iterator

from . import dane, timeouts
from .client import PROFILES, ClientSettings, Network, SMTPClient
from .dns import DnsServer, Record, Zone, reverse_name
from .errors import ConfigurationError
from .eventloop import EventLoopThread
from .hosts import LabHost
from .legacyserver import LegacyMailServer
from .mtasts import Fetch
from .outcome import Outcome
from .pki import ISSUER_SLUGS, CertificateSpec, IssuedCertificate, SimulatedPKI, fill_names, public_key
from .policyhost import PolicyHost, PolicyHostConfig
from .repository import RepositoryServer, UnansweredEndpoint
from .scenario import Scenario, Variant
from .sender import SendingHost
from .smtpserver import MailServer, ServerConfig
from .tls import Engine

log = logging.getLogger(__name__)


class Lab:
    """A context manager that starts the shared parts and stops them all on exit."""

    def __init__(self) -> None:
        self.repository = RepositoryServer()
        self.unanswered = UnansweredEndpoint()
        self.zone = Zone()
        self.dns = DnsServer(self.zone)
        self.loop = EventLoopThread()
        self.pki: SimulatedPKI | None = None
        self._entered: list[object] = []

    def __enter__(self) -> "Lab":
        try:
            self._enter(self.repository)
            self._enter(self.unanswered)
            self.pki = self._enter(SimulatedPKI(self.repository.base_url, unreachable_url=self.unanswered.base_url))
            for issuer in ISSUER_SLUGS:
                self.repository.publish(f"/crl/{issuer}.crl", self._crl_route(issuer))
                self.repository.publish(f"/ocsp/{issuer}", self._ocsp_route(issuer))
            self._enter(self.dns)
            self._enter(self.loop)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _enter(self, part):  # type: ignore[no-untyped-def]
        entered = part.__enter__()
        self._entered.append(part)
        return entered

    def _crl_route(self, issuer: str):  # type: ignore[no-untyped-def]
        def serve_crl(_: bytes) -> tuple[str, bytes] | None:
            assert self.pki is not None
            der = self.pki.crl_der(issuer)
            return ("application/pkix-crl", der) if der is not None else None
        return serve_crl

    def _ocsp_route(self, issuer: str):  # type: ignore[no-untyped-def]
        def serve_ocsp(request: bytes) -> tuple[str, bytes] | None:
            assert self.pki is not None
            der = self.pki.ocsp_response_der(issuer, request)
            return ("application/ocsp-response", der) if der is not None else None
        return serve_ocsp

    def __exit__(self, *exc_info: object) -> None:
        errors = []
        while self._entered:
            part = self._entered.pop()
            try:
                part.__exit__(None, None, None)  # type: ignore[attr-defined]
            except Exception as error:  # stop every part, then report the first failure
                errors.append(error)
        if errors:
            raise errors[0]

    @property
    def cafile(self) -> str:
        assert self.pki is not None, "the lab is not started"
        return str(self.pki.cafile)

    def host(self, scenario: Scenario, variant: Variant | str, listen: str | None = None,
             outside_loopback: bool = False) -> "SimulatedHost | SendingHost":
        """Return the simulated host of one variant; use it as a context manager.

        A scenario with a ``sender`` table gets the admin's outbound MTA and
        the strict receiver it sends to (``sender.SendingHost``). Every other
        scenario gets a simulated MX (``SimulatedHost``). ``listen`` is the
        address of that MX (default: a fresh loopback address); one outside
        loopback needs ``outside_loopback``.
        """
        chosen = scenario.variant(variant) if isinstance(variant, str) else variant
        if scenario.strict_receiver:
            if listen is not None:
                raise ConfigurationError(f"scenario {scenario.slug} is a sending scenario: its strict receiver "
                                         "always listens on loopback, so leave out --listen")
            return SendingHost(self, scenario, chosen)
        return SimulatedHost(self, scenario, chosen, listen, outside_loopback)

    def run_variant(self, scenario: Scenario, variant: Variant | str, profile: str | None = None) -> Outcome:
        """Start the variant's host, deliver one message to it, stop it, and return the outcome."""
        with self.host(scenario, variant) as host:
            return host.deliver(profile=profile)


class SimulatedHost(LabHost):
    """One mail domain of the simulation: its MX server, its certificates and its DNS records."""

    def __init__(self, lab: Lab, scenario: Scenario, variant: Variant, listen: str | None = None,
                 outside_loopback: bool = False) -> None:
        self.lab = lab
        self.listen = listen
        self.outside_loopback = outside_loopback
        self.scenario = scenario
        self.variant = variant
        self.domain = f"{variant.name}.{scenario.slug}.test"
        self.mx = f"mx.{self.domain}"
        self.recipient = f"postmaster@{self.domain}"
        self.second_mx = f"mx2.{self.domain}"
        self.server: MailServer | LegacyMailServer | None = None
        self.second_server: MailServer | None = None  # only when the variant has a second MX
        self.policy_host: PolicyHost | None = None  # only when the variant has an MTA-STS policy
        self.records: list[Record] = []
        self._signed: list[str] = []

    def __enter__(self) -> "SimulatedHost":
        config = self._server_config()
        server_type = LegacyMailServer if config.tls.engine is Engine.TLSLITE else MailServer
        if server_type is MailServer:
            self.server = MailServer(config, self.listen, loop=self.lab.loop,
                                     outside_loopback=self.outside_loopback).__enter__()
        else:
            self.server = LegacyMailServer(config, self.listen, loop=self.lab.loop).__enter__()
        try:
            if self.variant.second_mx is not None:
                self.second_server = MailServer(self._second_server_config(), loop=self.lab.loop).__enter__()
            if self.variant.mta_sts is not None:
                self.policy_host = PolicyHost(self._policy_host_config()).__enter__()
            self.records = self._records(self.server.address) + self._policy_records(config.certificate)
            self.lab.zone.add(self.records)
            self._sign_zone()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.lab.zone.remove(self.records)
        self.lab.zone.set_dnssec(self._signed, "insecure")
        try:
            if self.policy_host is not None:
                self.policy_host.__exit__(None, None, None)
            if self.second_server is not None:
                self.second_server.__exit__(None, None, None)
        finally:
            if self.server is not None:
                self.server.__exit__(None, None, None)

    def network(self) -> Network:
        assert self.server is not None, "the host is not started"
        ports = {server.address: server.port for server in (self.server, self.second_server) if server}
        https = {self.policy_host.address: self.policy_host.port} if self.policy_host else {}
        return Network(dns=(self.lab.dns.address, self.lab.dns.port), ports=ports, https_ports=https)

    def client(self, profile: str | None = None, settings: ClientSettings | None = None) -> SMTPClient:
        """Return a client with the variant's profile and settings, or the ones given."""
        chosen = PROFILES[profile or self.variant.profile]
        settings = settings or self.variant.client
        return SMTPClient(
            self.network(), self.lab.cafile, chosen,
            reply_timeout=settings.reply_timeout or timeouts.REPLY_TIMEOUT,
            handshake_timeout=settings.handshake_timeout or timeouts.HANDSHAKE_TIMEOUT,
            revocation_timeout=settings.revocation_timeout or timeouts.REVOCATION_FETCH_TIMEOUT,
            tls_mode=settings.tls_mode, mx_limit=settings.mx_limit, require_dane=self.variant.require_dane,
        )

    def deliver(self, profile: str | None = None) -> Outcome:
        return self.client(profile).deliver(self.recipient)

    def _issue(self, spec: CertificateSpec):  # type: ignore[no-untyped-def]
        assert self.lab.pki is not None
        return self.lab.pki.issue(spec.resolve(self.mx, self.domain))

    def _server_config(self) -> ServerConfig:
        variant = self.variant
        certificate = self._issue(variant.certificate) if variant.certificate else None
        sni = tuple(
            (fill_names(name, self.mx, self.domain), self._issue(spec))
            for name, spec in variant.sni_certificates
        )
        return ServerConfig(hostname=self.mx, certificate=certificate, tls=variant.tls,
                            starttls=variant.starttls, sni_certificates=sni)

    def _second_server_config(self) -> ServerConfig:
        second = self.variant.second_mx
        assert second is not None and self.lab.pki is not None
        certificate = self.lab.pki.issue(second.certificate.resolve(self.second_mx, self.domain))
        return ServerConfig(hostname=self.second_mx, certificate=certificate, tls=self.variant.tls,
                            starttls=self.variant.starttls)

    def _records(self, address: str) -> list[Record]:
        records = [
            Record(self.domain, "MX", f"10 {self.mx}"),
            Record(self.mx, "A", address),
            Record(reverse_name(address), "PTR", self.mx),
        ]
        if self.second_server is not None and self.variant.second_mx is not None:
            second_address = self.second_server.address
            records += [
                Record(self.domain, "MX", f"{self.variant.second_mx.preference} {self.second_mx}"),
                Record(self.second_mx, "A", second_address),
                Record(reverse_name(second_address), "PTR", self.second_mx),
            ]
        for template in self.variant.records:
            records.append(template.fill(domain=self.domain, mx=self.mx, mx_address=address))
        return records


    # Policies (MTA-STS and DANE)

    def _policy_host_config(self) -> PolicyHostConfig:
        spec = self.variant.mta_sts
        assert spec is not None
        hostname = f"mta-sts.{self.domain}"
        return PolicyHostConfig(hostname, self._issue(spec.certificate), spec.policy_text(self.mx, self.domain),
                                spec.fetch)

    def _policy_records(self, leaf: IssuedCertificate | None) -> list[Record]:
        records = []
        sts = self.variant.mta_sts
        if sts is not None and self.policy_host is not None:
            records.append(Record(f"_mta-sts.{self.domain}", "TXT", sts.txt))
            if sts.fetch is not Fetch.NO_HOST:
                records.append(Record(f"mta-sts.{self.domain}", "A", self.policy_host.address))
        if self.variant.dane is not None:
            name = dane.tlsa_name(self.mx)
            records += [Record(name, "TLSA", self._tlsa(spec, leaf)) for spec in self.variant.dane.tlsa]
        return records

    def _tlsa(self, spec: dane.TlsaSpec, leaf: IssuedCertificate | None) -> str:
        """Return a TLSA record's presentation form for what the spec pins."""
        if spec.data is not None:
            return f"{spec.usage} {spec.selector} {spec.matching} {spec.data}"
        pki = self.lab.pki
        assert pki is not None
        if spec.key is not None:
            pinned = public_key(spec.key)
        elif spec.of is dane.TlsaSource.INTERMEDIATE:
            pinned = pki.intermediate.certificate
        elif spec.of is dane.TlsaSource.ROOT:
            pinned = pki.root.certificate
        else:
            assert leaf is not None, "a TLSA record of the leaf needs a certificate on the MX"
            pinned = leaf.certificate
        data = dane.association(pinned, spec.selector, spec.matching)
        return f"{spec.usage} {spec.selector} {spec.matching} {data.hex()}"

    def _sign_zone(self) -> None:
        """Tell the DNS server which answers a validating resolver would call secure or bogus."""
        spec = self.variant.dane
        if spec is None or spec.dnssec is dane.DnssecStatus.INSECURE:
            return
        # The domain and MX host are signed; a bogus status breaks only the TLSA answer,
        # the common case of a TLSA zone whose signatures expired.
        signed = [self.domain, self.mx]
        self.lab.zone.set_dnssec(signed, "secure")
        self.lab.zone.set_dnssec([dane.tlsa_name(self.mx)], spec.dnssec.value)
        self._signed = signed + [dane.tlsa_name(self.mx)]


def iter_variants(scenarios: list[Scenario]) -> Iterator[tuple[Scenario, Variant]]:
    for scenario in scenarios:
        for variant in scenario.variants:
            yield scenario, variant
