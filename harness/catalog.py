"""Loading and validating the scenario catalog: one TOML file per scenario, grouped in folders.

The folder a file sits in is its group (``certificate/self-signed.toml``),
and the file name is its slug. Every error names the file, the dotted key and
the bad value, and lists what would be accepted. A catalog with bad files
still loads the good ones; ``Catalog.errors`` lists the bad ones.

File layout::

    title = "..."              # one line
    summary = "..."            # one or two sentences
    direction = "receiving"    # or "sending"
    requires = ["tls1.0"]      # optional: capabilities of the local OpenSSL

    [broken]                   # the broken set-up, complete
    certificate = { issuer = "self" }
    expect = { class = "certificate-not-trusted", reason = "self-signed", verify_code = 18 }

    [fixed]                    # only what the fix changes; expect is always given
    certificate = { issuer = "public" }
    expect = { class = "delivered" }

    [lesson]
    symptoms = "..."  cause = "..."  fix = "..."  outlook = "..."  postfix = "..."
    sources = ["..."]

A sending scenario may describe the admin's outbound MTA in a ``sender``
table per variant. Its mail then goes to the fixed Outlook.com-like receiver
of ``receiver.py``, so the keys that describe an MX are not allowed beside it::

    [broken]
    sender = { ptr = "missing" }
    expect = { class = "smtp-rejected", reason = "ptr-missing", reply_code = 550, enhanced_status = "5.7.1" }
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import enum
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from . import timeouts
from .client import PROFILES, ClientSettings, TLSMode
from .dane import DaneSpec, DnssecStatus, TlsaSource, TlsaSpec
from .dns import RecordTemplate, check_name, normalize
from .errors import ConfigurationError, ScenarioError, UnknownScenarioError
from .lessonindex import LessonEntry, catalog_root
from .mtasts import MAX_AGE_LIMIT, Fetch, Mode, MtaStsSpec
from .outcome import FailureClass, Stage, Trust
from .pki import CertificateSpec, Chain, Issuer, KeyKind, RevocationSource, SignatureHash, fill_names
from .policy import REPORTABLE
from .scenario import Direction, Expectation, Lesson, Scenario, SecondMX, Variant
from .sender import PTR, Family, Listing, SenderSettings, SenderStartTLS
from .smtpserver import StartTLS
from .tls import DH_GROUPS, Engine, TLSSettings, Version

E = TypeVar("E", bound=enum.Enum)

TOP_KEYS = {"title", "summary", "direction", "requires", "broken", "fixed", "lesson"}
VARIANT_KEYS = {"certificate", "sni_certificates", "tls", "starttls", "client", "dns", "expect",
                "second_mx", "sender", "mta_sts", "dane"}
CLIENT_KEYS = {"profile", "tls", "reply_timeout", "handshake_timeout", "revocation_timeout", "mx_limit",
               "require_dane"}
SECOND_MX_KEYS = {"preference", "certificate"}
# A scenario may shorten a client timeout, never lengthen it past the named
# default, so a silent peer cannot slow a run of the whole catalog.
CLIENT_TIMEOUT_DEFAULTS = {
    "reply_timeout": timeouts.REPLY_TIMEOUT,
    "handshake_timeout": timeouts.HANDSHAKE_TIMEOUT,
    "revocation_timeout": timeouts.REVOCATION_FETCH_TIMEOUT,
}
MIN_CLIENT_TIMEOUT = 0.05
CERTIFICATE_KEYS = {"issuer", "names", "common_name", "subject_alt_name", "not_before_days",
                    "not_after_days", "chain", "revoked", "key", "signature", "revocation"}
TLS_KEYS = {"min_version", "max_version", "ciphers", "security_level", "engine", "dh_group"}
EXPECT_KEYS = {"class", "reason", "verify_code", "alert", "reply_code", "stage", "trust", "enhanced_status",
               "reported"}
# Keys that describe the admin's MX, so they mean nothing in a sending scenario.
RECEIVING_ONLY_KEYS = {"certificate", "sni_certificates", "tls", "starttls", "client", "second_mx",
                       "mta_sts", "dane"}
SENDER_KEYS = {"family", "ptr", "dnsbl", "starttls", "tls", "sni", "verify"}
# The sending MTA always speaks through OpenSSL, so engine and dh_group (server-side) do not apply.
SENDER_TLS_KEYS = {"min_version", "max_version", "ciphers", "security_level"}
MTA_STS_KEYS = {"mode", "mx", "max_age", "txt", "body", "fetch", "certificate"}
DANE_KEYS = {"dnssec", "tlsa"}
TLSA_KEYS = {"usage", "selector", "matching", "of", "key", "data"}
LESSON_KEYS = {"symptoms", "cause", "fix", "outlook", "postfix", "sources"}
REQUIREMENTS = {"tls1.0", "tls1.1", "ipv6", "tlslite", "dh1024"}

# TLS alert descriptions as the client reports them (OpenSSL's reason token
# without its SSLV3_ALERT_ or TLSV1_ALERT_ prefix, in lower case): those of
# RFC 8446 section 6 and the TLS 1.2 ones it retired (RFC 5246 section 7.2).
TLS_ALERTS = {
    "close_notify", "unexpected_message", "bad_record_mac", "decryption_failed", "record_overflow",
    "decompression_failure", "handshake_failure", "no_certificate", "bad_certificate",
    "unsupported_certificate", "certificate_revoked", "certificate_expired", "certificate_unknown",
    "illegal_parameter", "unknown_ca", "access_denied", "decode_error", "decrypt_error",
    "export_restriction", "protocol_version", "insufficient_security", "internal_error",
    "inappropriate_fallback", "user_cancelled", "no_renegotiation", "missing_extension",
    "unsupported_extension", "certificate_unobtainable", "unrecognized_name",
    "bad_certificate_status_response", "bad_certificate_hash_value", "unknown_psk_identity",
    "certificate_required", "no_application_protocol",
}


def default_root() -> Path:
    """Return the catalog folder: inside the installed package, else the repository's scenarios/."""
    return catalog_root()


@dataclass
class Catalog:
    """The loaded scenarios, in group and slug order, and the files that failed to load."""

    scenarios: list[Scenario] = field(default_factory=list)
    errors: list[ScenarioError] = field(default_factory=list)

    @property
    def slugs(self) -> list[str]:
        return [scenario.slug for scenario in self.scenarios]

    def get(self, slug: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.slug == slug:
                return scenario
        for error in self.errors:
            if error.path.stem == slug:
                raise error  # the file exists but is invalid: report why, not "unknown"
        raise UnknownScenarioError(slug, self.slugs)

    def select(self, slugs: Iterable[str]) -> list[Scenario]:
        """Return the named scenarios in the order given, each once; all of them when none is named.

        A slug named twice runs once: two hosts of the same variant would
        share one domain and one set of DNS records.
        """
        wanted = list(dict.fromkeys(slugs))
        return [self.get(slug) for slug in wanted] if wanted else list(self.scenarios)

    def lesson_entries(self) -> tuple[LessonEntry, ...]:
        """Return what each scenario teaches, in the form ``findings.lesson_for`` reads."""
        return tuple(
            LessonEntry(s.slug, s.direction.value, s.broken.expect.failure_class.value, s.broken.expect.reason)
            for s in self.scenarios
        )


def load_catalog(root: Path | None = None) -> Catalog:
    """Load every ``*.toml`` under ``root`` (default: the shipped catalog)."""
    folder = root or default_root()
    catalog = Catalog()
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.toml"), key=lambda p: (p.parent.name, p.stem)):
        try:
            scenario = load_scenario(path, group=_group_of(path, folder))
        except ScenarioError as error:
            catalog.errors.append(error)
            continue
        if scenario.slug in seen:
            catalog.errors.append(ScenarioError(path, "", f"slug {scenario.slug!r} is already used by "
                                                f"{seen[scenario.slug]}; rename one of the files"))
            continue
        seen[scenario.slug] = path
        catalog.scenarios.append(scenario)
    return catalog


def _group_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else "ungrouped"


def load_scenario(path: Path, group: str = "ungrouped") -> Scenario:
    """Parse and validate one scenario file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(path, "", f"not valid TOML: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(path, "", f"cannot be read: {error}; scenario files are UTF-8 text") from error
    return _Parser(path).scenario(data, group)


class _Parser:
    """Validates one file's data; every error names this file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.path, key, problem)

    # Structure

    def scenario(self, data: dict[str, Any], group: str) -> Scenario:
        self.check_keys("", data, TOP_KEYS, required={"title", "summary", "broken", "fixed", "lesson"})
        broken_data = self.table("broken", data["broken"])
        fixed_data = self.table("fixed", data["fixed"])
        if "expect" not in broken_data or "expect" not in fixed_data:
            missing = "broken.expect" if "expect" not in broken_data else "fixed.expect"
            raise self.fail(missing, "missing: each variant states the outcome it must produce")
        merged = _merge(broken_data, {k: v for k, v in fixed_data.items() if k != "expect"})
        merged["expect"] = fixed_data["expect"]
        direction = self.choice("direction", data.get("direction", "receiving"), Direction)
        for name, variant_data in (("broken", broken_data), ("fixed", merged)):
            self.check_direction(name, variant_data, direction)
        if "sender" in fixed_data and "sender" not in broken_data:
            raise self.fail("fixed.sender", "the broken variant has no sender table: describe the sending host "
                            "in [broken] and only what the fix changes in [fixed]")
        return Scenario(
            slug=self.path.stem,
            group=group,
            title=self.text("title", data["title"]),
            summary=self.text("summary", data["summary"]),
            direction=direction,
            broken=self.variant("broken", broken_data),
            fixed=self.variant("fixed", merged),
            lesson=self.lesson(self.table("lesson", data["lesson"])),
            requires=self.requires(data.get("requires", [])),
            path=self.path,
        )

    def variant(self, name: str, data: dict[str, Any]) -> Variant:
        self.check_keys(name, data, VARIANT_KEYS, required={"expect"})
        certificate = None
        if data.get("certificate") is True:
            raise self.fail(f"{name}.certificate", "invalid value true; use a table such as "
                            "{ issuer = \"public\" }, or false for a host without a certificate")
        if data.get("certificate") is not False:
            certificate = self.certificate(f"{name}.certificate", data.get("certificate", {}))
        sni = self.table(f"{name}.sni_certificates", data.get("sni_certificates", {}))
        client = self.table(f"{name}.client", data.get("client", {}))
        self.check_keys(f"{name}.client", client, CLIENT_KEYS)
        profile = self.text(f"{name}.client.profile", client.get("profile", "strict"))
        if profile not in PROFILES:
            raise self.fail(f"{name}.client.profile", f"invalid value {profile!r}; use one of {', '.join(PROFILES)}")
        tls = self.tls(f"{name}.tls", self.table(f"{name}.tls", data.get("tls", {})))
        starttls = self.choice(f"{name}.starttls", data.get("starttls", "offered"), StartTLS)
        if tls.engine is Engine.TLSLITE:
            # The tlslite server presents one certificate and always offers STARTTLS.
            if sni:
                raise self.fail(f"{name}.sni_certificates", "not supported with tls.engine = \"tlslite\"")
            if "second_mx" in data:
                raise self.fail(f"{name}.second_mx", "not supported with tls.engine = \"tlslite\"")
            if starttls is not StartTLS.OFFERED:
                raise self.fail(f"{name}.starttls", f"invalid value {starttls.value!r} with tls.engine = "
                                "\"tlslite\"; only \"offered\" is supported")
        return Variant(
            name=name,
            expect=self.expectation(f"{name}.expect", self.table(f"{name}.expect", data["expect"])),
            certificate=certificate,
            sni_certificates=tuple(
                (sni_name, self.certificate(f"{name}.sni_certificates.{sni_name}", spec))
                for sni_name, spec in sni.items()
            ),
            tls=tls,
            starttls=starttls,
            profile=profile,
            records=self.records(f"{name}.dns", self.table(f"{name}.dns", data.get("dns", {}))),
            client=self.client_settings(f"{name}.client", client),
            sender=self.sender(f"{name}.sender", data["sender"]) if "sender" in data else None,
            second_mx=self.second_mx(f"{name}.second_mx", data["second_mx"]) if "second_mx" in data else None,
            mta_sts=self.mta_sts(f"{name}.mta_sts", data["mta_sts"]) if "mta_sts" in data else None,
            dane=self.dane(f"{name}.dane", data["dane"]) if "dane" in data else None,
            require_dane=self.boolean(f"{name}.client.require_dane", client.get("require_dane", False)),
        )

    def client_settings(self, key: str, data: dict[str, Any]) -> ClientSettings:
        changes: dict[str, Any] = {}
        if "tls" in data:
            changes["tls_mode"] = self.choice(f"{key}.tls", data["tls"], TLSMode)
        for timeout, default in CLIENT_TIMEOUT_DEFAULTS.items():
            if timeout in data:
                changes[timeout] = self.seconds(f"{key}.{timeout}", data[timeout], MIN_CLIENT_TIMEOUT, default)
        if "mx_limit" in data:
            changes["mx_limit"] = self.integer(f"{key}.mx_limit", data["mx_limit"], 1, 10)
        return ClientSettings(**changes)

    def second_mx(self, key: str, raw: Any) -> SecondMX:
        data = self.table(key, raw)
        self.check_keys(key, data, SECOND_MX_KEYS, required={"preference"})
        return SecondMX(
            preference=self.integer(f"{key}.preference", data["preference"], 0, 65535),
            certificate=self.certificate(f"{key}.certificate", data.get("certificate", {})),
        )

    def check_direction(self, name: str, data: dict[str, Any], direction: Direction) -> None:
        """Reject ``sender`` outside sending scenarios, and MX keys beside ``sender``.

        A ``sender`` table means the admin's MTA sends to the fixed strict
        receiver, so keys that describe a simulated MX have nothing to act on.
        """
        if "sender" not in data:
            return
        if direction is not Direction.SENDING:
            raise self.fail(f"{name}.sender", "applies to sending scenarios only; set direction = \"sending\" "
                            "or remove the table")
        for key in sorted(RECEIVING_ONLY_KEYS & set(data)):
            raise self.fail(f"{name}.{key}", f"describes a simulated MX and cannot be combined with {name}.sender, "
                            "which sends to the fixed strict receiver; remove one of them")

    def sender(self, key: str, raw: Any) -> SenderSettings:
        data = self.table(key, raw)
        self.check_keys(key, data, SENDER_KEYS)
        values: dict[str, Any] = {}
        for field_name, kind in (("family", Family), ("ptr", PTR), ("dnsbl", Listing), ("starttls", SenderStartTLS)):
            if field_name in data:
                values[field_name] = self.choice(f"{key}.{field_name}", data[field_name], kind)
        for flag in ("sni", "verify"):
            if flag in data:
                values[flag] = self.boolean(f"{key}.{flag}", data[flag])
        if "tls" in data:
            tls_data = self.table(f"{key}.tls", data["tls"])
            self.check_keys(f"{key}.tls", tls_data, SENDER_TLS_KEYS)
            values["tls"] = self.tls(f"{key}.tls", tls_data)
        return SenderSettings(**values)

    def mta_sts(self, key: str, raw: Any) -> MtaStsSpec:
        """``mta_sts``: the TXT record, the policy (mode, mx, max_age, or a raw body) and its host."""
        data = self.table(key, raw)
        self.check_keys(key, data, MTA_STS_KEYS)
        changes: dict[str, Any] = {}
        if "mode" in data:
            changes["mode"] = self.choice(f"{key}.mode", data["mode"], Mode).value
        if "mx" in data:
            changes["mx"] = tuple(self.text_list(f"{key}.mx", data["mx"]))
        if "max_age" in data:
            changes["max_age"] = self.integer(f"{key}.max_age", data["max_age"], 0, MAX_AGE_LIMIT)
        for text_key in ("txt", "body"):
            if text_key in data:
                changes[text_key] = self.text(f"{key}.{text_key}", data[text_key])
        if "fetch" in data:
            changes["fetch"] = self.choice(f"{key}.fetch", data["fetch"], Fetch)
        if "certificate" in data:
            changes["certificate"] = self.certificate(f"{key}.certificate", _merge(
                {"names": ["mta-sts.{domain}"]}, self.table(f"{key}.certificate", data["certificate"])))
        return dataclasses.replace(MtaStsSpec(), **changes)

    def dane(self, key: str, raw: Any) -> DaneSpec:
        """``dane``: the DNSSEC status of the TLSA answer and the TLSA records at _25._tcp.<mx>."""
        data = self.table(key, raw)
        self.check_keys(key, data, DANE_KEYS)
        dnssec = self.choice(f"{key}.dnssec", data.get("dnssec", "secure"), DnssecStatus)
        raw_records = data.get("tlsa", [])
        if not isinstance(raw_records, list):
            raise self.fail(f"{key}.tlsa", f"expected a list of tables, got {raw_records!r}")
        records = tuple(self.tlsa(f"{key}.tlsa[{index}]", item) for index, item in enumerate(raw_records))
        return DaneSpec(records, dnssec)

    def tlsa(self, key: str, raw: Any) -> TlsaSpec:
        data = self.table(key, raw)
        self.check_keys(key, data, TLSA_KEYS)
        fields = {name: self.integer(f"{key}.{name}", data.get(name, default), 0, 255)
                  for name, default in (("usage", 3), ("selector", 1), ("matching", 1))}
        sources = [name for name in ("of", "key", "data") if name in data]
        if len(sources) > 1:
            raise self.fail(key, f"give one of of, key or data, not {' and '.join(sources)}")
        spec = TlsaSpec(**fields, of=None)
        if "key" in data:
            if fields["selector"] != 1:
                raise self.fail(f"{key}.key", "a key is pinned by its SubjectPublicKeyInfo: use selector = 1")
            return dataclasses.replace(spec, key=self.choice(f"{key}.key", data["key"], KeyKind))
        if "data" in data:
            text = self.text(f"{key}.data", data["data"])
            try:
                bytes.fromhex(text)
            except ValueError:
                raise self.fail(f"{key}.data", f"{text!r} is not hexadecimal") from None
            return dataclasses.replace(spec, data=text)
        return dataclasses.replace(spec, of=self.choice(f"{key}.of", data.get("of", "leaf"), TlsaSource))

    def certificate(self, key: str, raw: Any) -> CertificateSpec:
        data = self.table(key, raw)
        self.check_keys(key, data, CERTIFICATE_KEYS)
        changes: dict[str, Any] = {}
        if "issuer" in data:
            changes["issuer"] = self.choice(f"{key}.issuer", data["issuer"], Issuer)
        if "names" in data:
            changes["names"] = tuple(self.host_names(f"{key}.names", data["names"]))
        if "common_name" in data:
            changes["common_name"] = self.common_name(f"{key}.common_name", data["common_name"])
        for flag in ("subject_alt_name", "revoked"):
            if flag in data:
                changes[flag] = self.boolean(f"{key}.{flag}", data[flag])
        for days in ("not_before_days", "not_after_days"):
            if days in data:
                changes[days] = self.integer(f"{key}.{days}", data[days], -36500, 36500)
        if "chain" in data:
            changes["chain"] = self.choice(f"{key}.chain", data["chain"], Chain)
        if "key" in data:
            changes["key"] = self.choice(f"{key}.key", data["key"], KeyKind)
        if "signature" in data:
            changes["signature"] = self.choice(f"{key}.signature", data["signature"], SignatureHash)
        if "revocation" in data:
            changes["revocation"] = self.choice(f"{key}.revocation", data["revocation"], RevocationSource)
        spec = dataclasses.replace(CertificateSpec(), **changes)
        self.check_signature(key, spec)
        if spec.not_before_days >= spec.not_after_days:
            raise self.fail(f"{key}.not_after_days", f"{spec.not_after_days} must be later than "
                            f"not_before_days {spec.not_before_days}")
        return spec

    def check_signature(self, key: str, spec: CertificateSpec) -> None:
        # Only an RSA key can make a sha1WithRSAEncryption signature, and the
        # CAs other than public-rsa have ECDSA keys.
        if spec.signature is not SignatureHash.SHA1:
            return
        rsa_self_signed = spec.issuer is Issuer.SELF and spec.key in (KeyKind.RSA2048, KeyKind.RSA1024)
        if spec.issuer is not Issuer.PUBLIC_RSA and not rsa_self_signed:
            raise self.fail(f"{key}.signature", f"sha1 needs an RSA issuer, but issuer {spec.issuer.value!r} "
                            f"with key {spec.key.value!r} has none; use issuer public-rsa")

    def tls(self, key: str, data: dict[str, Any]) -> TLSSettings:
        self.check_keys(key, data, TLS_KEYS)
        values: dict[str, Any] = {}
        for version_key in ("min_version", "max_version"):
            if version_key in data:
                values[version_key] = self.choice(f"{key}.{version_key}", data[version_key], Version)
        if "security_level" in data:
            values["security_level"] = self.integer(f"{key}.security_level", data["security_level"], 0, 5)
        if "engine" in data:
            values["engine"] = self.choice(f"{key}.engine", data["engine"], Engine)
        if "ciphers" in data:
            # tlslite-ng has suite names of its own (rc4, 3des): only OpenSSL's strings are checked here.
            if values.get("engine", Engine.OPENSSL) is Engine.OPENSSL:
                values["ciphers"] = self.ciphers(f"{key}.ciphers", data["ciphers"])
            else:
                values["ciphers"] = self.text(f"{key}.ciphers", data["ciphers"])
        if "dh_group" in data:
            values["dh_group"] = self.text(f"{key}.dh_group", data["dh_group"])
            if values["dh_group"] not in DH_GROUPS:
                raise self.fail(f"{key}.dh_group", f"invalid value {values['dh_group']!r}; "
                                f"use one of {', '.join(DH_GROUPS)}")
        try:
            return TLSSettings(**values)
        except ConfigurationError as error:
            raise self.fail(key, str(error)) from error

    def expectation(self, key: str, data: dict[str, Any]) -> Expectation:
        self.check_keys(key, data, EXPECT_KEYS, required={"class"})
        return Expectation(
            failure_class=self.choice(f"{key}.class", data["class"], FailureClass),
            reason=self.text(f"{key}.reason", data.get("reason", "")),
            verify_code=self.integer(f"{key}.verify_code", data["verify_code"], 0, 200)
            if "verify_code" in data else None,
            alert=self.alert(f"{key}.alert", data["alert"]) if "alert" in data else None,
            reply_code=self.integer(f"{key}.reply_code", data["reply_code"], 200, 599)
            if "reply_code" in data else None,
            stage=self.choice(f"{key}.stage", data["stage"], Stage) if "stage" in data else None,
            trust=self.choice(f"{key}.trust", data["trust"], Trust) if "trust" in data else None,
            enhanced_status=self.enhanced_status(f"{key}.enhanced_status", data["enhanced_status"])
            if "enhanced_status" in data else None,
            reported=self.reported(f"{key}.reported", data["reported"]) if "reported" in data else None,
        )

    def enhanced_status(self, key: str, value: Any) -> str:
        text = self.text(key, value)
        parts = text.split(".")
        if len(parts) != 3 or parts[0] not in ("2", "4", "5") or not all(p.isdigit() and len(p) <= 3 for p in parts[1:]):
            raise self.fail(key, f"invalid value {text!r}; expected an RFC 3463 code such as 5.7.1")
        return text

    def reported(self, key: str, raw: Any) -> str:
        value = self.text(key, raw)
        accepted = ["success"] + sorted(str(c) for c in REPORTABLE)
        if value not in accepted:
            raise self.fail(key, f"invalid value {value!r}; use success or a TLS-RPT result type "
                                 "such as certificate-expired")
        return value

    def records(self, key: str, data: dict[str, Any]) -> tuple[RecordTemplate, ...]:
        self.check_keys(key, data, {"records"})
        raw = data.get("records", [])
        if not isinstance(raw, list):
            raise self.fail(f"{key}.records", f"expected a list of tables, got {raw!r}")
        records = []
        for index, item in enumerate(raw):
            item_key = f"{key}.records[{index}]"
            entry = self.table(item_key, item)
            self.check_keys(item_key, entry, {"name", "type", "value", "ttl"}, required={"name", "type", "value"})
            for field_name in ("name", "type", "value"):
                self.text(f"{item_key}.{field_name}", entry[field_name])
            try:
                records.append(_template_record(entry))
            except ConfigurationError as error:
                raise self.fail(item_key, str(error)) from error
        return tuple(records)

    def lesson(self, data: dict[str, Any]) -> Lesson:
        self.check_keys("lesson", data, LESSON_KEYS, required={"symptoms", "cause", "fix"})
        return Lesson(
            symptoms=self.text("lesson.symptoms", data["symptoms"]),
            cause=self.text("lesson.cause", data["cause"]),
            fix=self.text("lesson.fix", data["fix"]),
            outlook=self.text("lesson.outlook", data.get("outlook", "")),
            postfix=self.text("lesson.postfix", data.get("postfix", "")),
            sources=tuple(self.text_list("lesson.sources", data.get("sources", []))),
        )

    def requires(self, raw: Any) -> tuple[str, ...]:
        values = self.text_list("requires", raw)
        for value in values:
            if value not in REQUIREMENTS:
                raise self.fail("requires", f"unknown capability {value!r}; use one of {', '.join(sorted(REQUIREMENTS))}")
        return tuple(values)

    # Values checked against what OpenSSL and X.509 accept, so a typo fails
    # here with its key instead of later as a harness error in the run.

    def host_names(self, key: str, raw: Any) -> list[str]:
        names = self.text_list(key, raw)
        for name in names:
            sample = fill_names(name, "mx.example.test", "example.test")
            try:
                check_name(normalize(sample))
            except ConfigurationError:
                raise self.fail(key, f"invalid host name {name!r}; use DNS names of letters, digits and "
                                "hyphens such as \"{mx}\", \"*.{domain}\" or \"mail.example.test\"") from None
        return names

    def common_name(self, key: str, raw: Any) -> str:
        value = self.text(key, raw)
        # RFC 5280 appendix A.1: ub-common-name is 64 characters.
        if not 1 <= len(value) <= 64:
            raise self.fail(key, f"invalid value {value!r}: a common name has 1 to 64 characters")
        return value

    def ciphers(self, key: str, raw: Any) -> str:
        value = self.text(key, raw)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(value + ":@SECLEVEL=0")
        except ssl.SSLError:
            raise self.fail(key, f"invalid value {value!r}: the local OpenSSL matches no cipher in it; "
                            "use an OpenSSL cipher string such as \"ECDHE-RSA-AES128-GCM-SHA256\" or "
                            "\"DEFAULT\" (see 'openssl ciphers -v')") from None
        return value

    def alert(self, key: str, raw: Any) -> str:
        value = self.text(key, raw)
        if value not in TLS_ALERTS:
            raise self.fail(key, f"invalid value {value!r}; use a TLS alert name such as protocol_version, "
                            "handshake_failure or unknown_ca (all: " + ", ".join(sorted(TLS_ALERTS)) + ")")
        return value

    # Values

    def check_keys(self, where: str, data: dict[str, Any], allowed: set[str], required: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(_join(where, key), f"unknown key; {hint}accepted keys here: {', '.join(sorted(allowed))}")
        for key in sorted(required):
            if key not in data:
                raise self.fail(_join(where, key), "missing: this key is required")

    def table(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {value!r}")
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {value!r}")
        return value.strip()

    def text_list(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, f"expected a list of strings, got {value!r}")
        return list(value)

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, value: Any, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"expected an integer from {low} to {high}, got {value!r}")
        return value

    def seconds(self, key: str, value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(key, f"expected seconds from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def choice(self, key: str, value: Any, kind: Callable[[Any], E]) -> E:
        try:
            return kind(value)
        except ValueError:
            accepted = ", ".join(member.value for member in kind)  # type: ignore[attr-defined]
            raise self.fail(key, f"invalid value {value!r}; use one of {accepted}") from None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``changes`` over ``base``: tables merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _template_record(entry: dict[str, Any]) -> RecordTemplate:
    ttl = entry.get("ttl", 300)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2**31 - 1:
        raise ConfigurationError(f"ttl must be an integer from 0 to 2147483647, got {ttl!r}")
    return RecordTemplate(str(entry["name"]), str(entry["type"]), str(entry["value"]), ttl)
