"""pytest plugin: start the catalog's simulated mail hosts in your own tests.

Installed with the package (entry point ``pytest11``), so any project that
installs smtp-tls-harness gets these fixtures:

``smtp_lab``
    Session-scoped ``Lab``: the simulated PKI, its CRL repository, the fake
    DNS server and the event loop of the SMTP servers.

``scenario_host``
    A factory: ``scenario_host("self-signed")`` starts the broken variant's
    host (``variant="fixed"`` for the fix) and stops it after the test. The
    host gives your client its targets: ``host.address.address`` and
    ``.port`` for SMTP, ``host.mx`` for SNI and name checks, ``host.cafile``
    for the trust store, ``host.dns_server`` for MX look-ups.

``mx_<slug>``
    One fixture per catalog entry, named after the defect, e.g.
    ``mx_self_signed`` or ``mx_tls10_only``: the broken variant's host, started.
    For a scenario with the strict receiver (``mx_ptr_missing``) the host is a
    ``sender.SendingHost``: send to ``host.address`` from ``host.source_address``
    and read the receiver's verdict in ``host.server.events``.

Example::

    def test_my_mta_rejects_self_signed(mx_self_signed):
        result = my_mta.send(mx_self_signed.address.address, mx_self_signed.address.port,
                             server_name=mx_self_signed.mx, cafile=mx_self_signed.cafile)
        assert result.verify_code == 18
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from .catalog import Catalog, default_root, load_catalog
from .errors import ConfigurationError
from .lab import Lab, SimulatedHost


@pytest.fixture(scope="session")
def smtp_lab() -> Iterator[Lab]:
    """The shared lab: simulated PKI and its repository, fake DNS server, SMTP event loop."""
    with Lab() as lab:
        yield lab


@pytest.fixture(scope="session")
def smtp_catalog() -> Catalog:
    """The scenario catalog installed with the package."""
    return load_catalog()


@pytest.fixture
def scenario_host(smtp_lab: Lab, smtp_catalog: Catalog) -> Iterator[Callable[..., SimulatedHost]]:
    """Factory: ``scenario_host(slug, variant="broken")`` starts that variant's host until the test ends."""
    started: list[SimulatedHost] = []

    def start(slug: str, variant: str = "broken") -> SimulatedHost:
        host = smtp_lab.host(smtp_catalog.get(slug), variant).__enter__()
        started.append(host)
        return host

    yield start
    for host in reversed(started):
        host.__exit__(None, None, None)


def _defect_fixture(slug: str):  # type: ignore[no-untyped-def]
    def fixture(scenario_host: Callable[..., SimulatedHost]) -> SimulatedHost:
        return scenario_host(slug)

    fixture.__doc__ = f"The broken variant of scenario {slug!r}, started on loopback."
    return pytest.fixture(fixture, name=f"mx_{slug.replace('-', '_')}")


def _catalog_slugs() -> list[str]:
    # File names only: parsing waits until a fixture is used, so a bad file
    # in the catalog cannot break collection of unrelated tests.
    try:
        root = default_root()
    except ConfigurationError:
        return []
    return sorted(path.stem for path in root.rglob("*.toml"))


for _slug in _catalog_slugs():
    globals()[f"mx_{_slug.replace('-', '_')}"] = _defect_fixture(_slug)
