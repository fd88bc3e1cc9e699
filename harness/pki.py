"""The simulated public PKI: a trusted root and intermediate, untrusted issuers, leaves with defects.

The harness plays the Web PKI that a strict sender such as Exchange Online
trusts. One root CA (the trust anchor the strict client loads instead of the
system store) signs one intermediate, which issues the leaves of healthy mail
hosts, just as public CAs issue from an intermediate and never from the root.
A second root, which no client trusts, issues the leaves of "untrusted root"
hosts. A leaf can also sign itself (self-signed). trustme's CAs have ECDSA
keys. A second trusted intermediate with an RSA key is created on first use,
because a SHA-1-signed leaf needs an RSA issuer.

Revocation data comes from the PKI repository on loopback: a CRL per issuer,
and an OCSP responder (RFC 6960) for leaves whose Authority Information
Access names one.

Dates are fixed relative to the moment the PKI is created (``now``), never
"valid for one day": an expired leaf expired a day before ``now`` and a valid
one is valid for 90 days around it, so results do not depend on the clock.

Keys are generated once per process and reused across leaves: a leaf's key
has no bearing on any defect except key size, and RSA key generation is the
slowest step of a run. Key and certificate files are written only into a
private temporary folder (mode 0700) that ``close()`` removes.
"""

from __future__ import annotations

import datetime
import enum
import functools
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from .errors import ConfigurationError
from .legacysign import resign_with_sha1
from .revocation import build_ocsp_response

ORGANIZATION = "smtp-tls-harness simulated PKI"


class KeyKind(str, enum.Enum):
    """The leaf key types a scenario can ask for."""

    RSA2048 = "rsa2048"
    RSA1024 = "rsa1024"
    ECDSA_P256 = "ecdsa-p256"


class Issuer(str, enum.Enum):
    """The signer of a leaf."""

    PUBLIC = "public"  # the trusted intermediate, as a public CA would
    UNTRUSTED = "untrusted"  # a root that no client trusts
    SELF = "self"  # the leaf signs itself
    PUBLIC_RSA = "public-rsa"  # a second trusted intermediate, with an RSA key


class Chain(str, enum.Enum):
    """The certificates a server sends besides the leaf."""

    FULL = "full"  # leaf and intermediate, as RFC 8446 section 4.4.2 expects
    LEAF_ONLY = "leaf-only"  # the intermediate is missing


class SignatureHash(str, enum.Enum):
    """The digest of the issuer's signature on a leaf."""

    SHA256 = "sha256"
    SHA1 = "sha1"  # refused by OpenSSL 3 at security level 1 and above (verify code 68)


class RevocationSource(str, enum.Enum):
    """The revocation pointer a leaf carries: a CRL distribution point or an OCSP responder."""

    CRL = "crl"  # a CRL distribution point on the PKI repository
    OCSP = "ocsp"  # an OCSP responder in Authority Information Access, no CRL
    CRL_UNREACHABLE = "crl-unreachable"  # a CRL distribution point that never answers


@dataclass(frozen=True)
class CertificateSpec:
    """A leaf certificate as a scenario describes it.

    ``names`` are DNS names for subjectAltName; ``{mx}`` and ``{domain}`` are
    replaced by the variant's MX host name and mail domain. The common name is
    the first name unless ``common_name`` is given. With ``subject_alt_name``
    False the leaf carries its name in the common name only, which strict
    clients no longer accept (RFC 6125 section 6.4.4). ``signature`` SHA1
    needs an RSA issuer (``public-rsa``, ``untrusted`` or ``self`` with an
    RSA key). ``revocation`` applies to leaves of the trusted issuers.
    """

    issuer: Issuer = Issuer.PUBLIC
    names: tuple[str, ...] = ("{mx}",)
    common_name: str | None = None
    subject_alt_name: bool = True
    not_before_days: int = -45
    not_after_days: int = 45
    chain: Chain = Chain.FULL
    revoked: bool = False
    key: KeyKind = KeyKind.RSA2048
    signature: SignatureHash = SignatureHash.SHA256
    revocation: RevocationSource = RevocationSource.CRL

    def resolve(self, mx: str, domain: str) -> "CertificateSpec":
        """Return a copy with ``{mx}`` and ``{domain}`` replaced in every name."""
        names = tuple(fill_names(name, mx, domain) for name in self.names)
        common_name = fill_names(self.common_name, mx, domain) if self.common_name else None
        return _replace(self, names=names, common_name=common_name)


def fill_names(template: str, mx: str, domain: str) -> str:
    """Replace ``{mx}`` and ``{domain}`` in a scenario's host name or text with a variant's names."""
    return template.replace("{mx}", mx).replace("{domain}", domain)


def _replace(spec: CertificateSpec, **changes: object) -> CertificateSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf on disk, ready for ``SSLContext.load_cert_chain``."""

    spec: CertificateSpec
    certificate: x509.Certificate
    certfile: Path  # the leaf followed by the chain the server sends
    keyfile: Path

    @property
    def serial(self) -> int:
        return self.certificate.serial_number


@functools.lru_cache(maxsize=None)
def _leaf_key(kind: KeyKind) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Generate one key per kind per process; leaves of that kind share it."""
    if kind is KeyKind.RSA2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind is KeyKind.RSA1024:
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return ec.generate_private_key(ec.SECP256R1())


def public_key(kind: KeyKind):  # type: ignore[no-untyped-def]
    """Return the public half of the process's key of ``kind``, which a TLSA record with selector 1 pins."""
    return _leaf_key(kind).public_key()


class _Authority:
    """A CA from trustme, with its certificate and key loaded for signing leaves."""

    def __init__(self, ca: trustme.CA, slug: str) -> None:
        self.ca = ca
        self.slug = slug
        self.certificate = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
        self.key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
        self.pem = ca.cert_pem.bytes()


# Every issuer that publishes a CRL and answers OCSP, by slug.
ISSUER_SLUGS = ("public-intermediate", "public-rsa-intermediate", "untrusted-root")


class SimulatedPKI:
    """The trust anchors and issuers of one run, and the leaves issued so far.

    ``repository_url`` is the base URL of the PKI repository server on
    loopback; leaves from the public intermediates carry a CRL distribution
    point under it, like leaves from public CAs do, or an OCSP responder URL.
    ``unreachable_url`` is the base URL of an endpoint that accepts TCP
    connections and never answers; "crl-unreachable" leaves point there.
    """

    def __init__(self, repository_url: str | None = None, now: datetime.datetime | None = None,
                 unreachable_url: str | None = None) -> None:
        current = now or datetime.datetime.now(datetime.timezone.utc)
        self.now = current.replace(second=0, microsecond=0)
        self.repository_url = repository_url.rstrip("/") if repository_url else None
        self.unreachable_url = unreachable_url.rstrip("/") if unreachable_url else None
        self.folder = Path(tempfile.mkdtemp(prefix="smtp-harness-pki-"))
        self._lock = threading.Lock()
        self._issued: dict[CertificateSpec, IssuedCertificate] = {}
        self._revoked: dict[str, set[int]] = {}

        root = trustme.CA(organization_name=ORGANIZATION, organization_unit_name="Simulated Public Root")
        self.root = _Authority(root, "public-root")
        # trustme's create_child_ca names the CA "trustme ... Testing CA #..."; a
        # child built with parent_cert carries our organization like the root.
        intermediate = trustme.CA(parent_cert=root, organization_name=ORGANIZATION,
                                  organization_unit_name="Simulated Public Intermediate")
        self.intermediate = _Authority(intermediate, "public-intermediate")
        untrusted = trustme.CA(organization_name=ORGANIZATION, organization_unit_name="Untrusted Root")
        self.untrusted_root = _Authority(untrusted, "untrusted-root")
        self._root_ca = root
        self._rsa_intermediate: _Authority | None = None

        self.cafile = self.folder / "public-roots.pem"
        self.cafile.write_bytes(self.root.pem)

    # Life cycle

    def close(self) -> None:
        """Remove every key and certificate file of this PKI."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "SimulatedPKI":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Issuing

    def issue(self, spec: CertificateSpec) -> IssuedCertificate:
        """Issue (or return the already issued) leaf for a resolved spec."""
        with self._lock:
            issued = self._issued.get(spec)
            if issued is None:
                issued = self._issue(spec, len(self._issued))
                self._issued[spec] = issued
                if spec.revoked:
                    self._revoked.setdefault(self._issuer_for(spec).slug, set()).add(issued.serial)
        return issued

    def _issuer_for(self, spec: CertificateSpec) -> _Authority:
        if spec.issuer is Issuer.UNTRUSTED:
            return self.untrusted_root
        if spec.issuer is Issuer.PUBLIC_RSA:
            return self.rsa_intermediate
        return self.intermediate

    @property
    def rsa_intermediate(self) -> _Authority:
        """The trusted RSA intermediate, created on first use (RSA key generation costs ~60 ms)."""
        if self._rsa_intermediate is None:
            child = trustme.CA(parent_cert=self._root_ca, organization_name=ORGANIZATION,
                               organization_unit_name="Simulated Public RSA Intermediate",
                               key_type=trustme.KeyType.RSA)
            self._rsa_intermediate = _Authority(child, "public-rsa-intermediate")
        return self._rsa_intermediate

    def _authority(self, slug: str) -> _Authority | None:
        known = [self.intermediate, self.untrusted_root]
        if self._rsa_intermediate is not None:
            known.append(self._rsa_intermediate)
        return {authority.slug: authority for authority in known}.get(slug)

    def _issue(self, spec: CertificateSpec, index: int) -> IssuedCertificate:
        leaf_key = _leaf_key(spec.key)
        certificate = self._build_leaf(spec, leaf_key)

        chain = [certificate.public_bytes(serialization.Encoding.PEM)]
        if spec.issuer is not Issuer.SELF and spec.chain is Chain.FULL:
            # A server with an untrusted issuer usually sends that root too:
            # clients then report "self-signed certificate in certificate chain".
            chain.append(self._issuer_for(spec).pem)

        certfile = self.folder / f"leaf-{index}.pem"
        certfile.write_bytes(b"".join(chain))
        return IssuedCertificate(spec, certificate, certfile, self._keyfile(spec.key))

    def _keyfile(self, kind: KeyKind) -> Path:
        path = self.folder / f"key-{kind.value}.pem"
        if not path.exists():
            pem = _leaf_key(kind).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.write_bytes(pem)
            path.chmod(0o600)
        return path

    def _build_leaf(self, spec: CertificateSpec, leaf_key) -> x509.Certificate:  # type: ignore[no-untyped-def]
        common_name = spec.common_name or (spec.names[0] if spec.names else "localhost")
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        if spec.issuer is Issuer.SELF:
            issuer_name, signing_key = subject, leaf_key
        else:
            authority = self._issuer_for(spec)
            issuer_name, signing_key = authority.certificate.subject, authority.key

        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + datetime.timedelta(days=spec.not_before_days))
            .not_valid_after(self.now + datetime.timedelta(days=spec.not_after_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(leaf_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        )
        if spec.subject_alt_name and spec.names:
            san = x509.SubjectAlternativeName([x509.DNSName(name) for name in spec.names])
            builder = builder.add_extension(san, critical=False)
        if spec.issuer is not Issuer.SELF:
            authority_key = self._issuer_for(spec).key.public_key()
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key), critical=False
            )
        if spec.issuer in (Issuer.PUBLIC, Issuer.PUBLIC_RSA) and self.repository_url:
            builder = self._add_revocation_pointer(builder, spec)
        certificate = builder.sign(signing_key, hashes.SHA256())
        if spec.signature is SignatureHash.SHA1:
            if not isinstance(signing_key, rsa.RSAPrivateKey):
                raise ConfigurationError(f"a SHA-1 signature needs an RSA issuer; issuer {spec.issuer.value!r} "
                                 "signs with another key type: use issuer public-rsa")
            certificate = resign_with_sha1(certificate, signing_key)
        return certificate

    def _add_revocation_pointer(self, builder: x509.CertificateBuilder,
                                spec: CertificateSpec) -> x509.CertificateBuilder:
        slug = self._issuer_for(spec).slug
        if spec.revocation is RevocationSource.OCSP:
            access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                            x509.UniformResourceIdentifier(self.ocsp_url(slug)))
            return builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
        if spec.revocation is RevocationSource.CRL_UNREACHABLE:
            if self.unreachable_url is None:
                raise ConfigurationError("a crl-unreachable leaf needs the PKI's unreachable_url")
            url = f"{self.unreachable_url}/crl/{slug}.crl"
        else:
            url = self.crl_url(slug)
        return builder.add_extension(self._crl_distribution_point(url), critical=False)

    def _crl_distribution_point(self, url: str) -> x509.CRLDistributionPoints:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        return x509.CRLDistributionPoints([point])

    # Revocation

    def crl_url(self, issuer_slug: str) -> str:
        return f"{self.repository_url}/crl/{issuer_slug}.crl"

    def ocsp_url(self, issuer_slug: str) -> str:
        return f"{self.repository_url}/ocsp/{issuer_slug}"

    def ocsp_response_der(self, issuer_slug: str, request_der: bytes) -> bytes | None:
        """Build the OCSP response to a request about a leaf of ``issuer_slug``, or None for an unknown issuer."""
        with self._lock:
            authority = self._authority(issuer_slug)
            revoked = set(self._revoked.get(issuer_slug, set()))
        if authority is None:
            return None
        return build_ocsp_response(request_der, authority.certificate, authority.key, revoked, self.now)

    def crl_der(self, issuer_slug: str) -> bytes | None:
        """Build the current CRL of an issuer, DER-encoded, or None for an unknown issuer."""
        with self._lock:
            authority = self._authority(issuer_slug)
            if authority is None:
                return None
            serials = sorted(self._revoked.get(issuer_slug, set()))

        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(authority.certificate.subject)
            .last_update(self.now - datetime.timedelta(hours=1))
            .next_update(self.now + datetime.timedelta(days=7))
        )
        for serial in serials:
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(self.now - datetime.timedelta(hours=2))
                .build()
            )
            builder = builder.add_revoked_certificate(revoked)
        crl = builder.sign(authority.key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)


def _key_usage(leaf_key) -> x509.KeyUsage:  # type: ignore[no-untyped-def]
    # RSA leaves need keyEncipherment for static-RSA key exchange, which
    # Microsoft's TLS 1.2 list still contains (TLS_RSA_WITH_AES_*_GCM_*).
    is_rsa = isinstance(leaf_key, rsa.RSAPrivateKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
