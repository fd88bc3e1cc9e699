"""What every started host of a lab offers its clients: where it listens, the trust anchor, the DNS server.

Both kinds of host share it: the simulated MX of the receiving direction
(``lab.SimulatedHost``) and the strict receiver of the sending direction
(``sender.SendingHost``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab


@dataclass(frozen=True)
class HostAddress:
    """The address of a started host: its mail domain, MX host name, IP address and port."""

    domain: str
    mx: str
    address: str
    port: int


class LabHost:
    """The endpoints of a host that runs in a lab; subclasses set ``lab``, ``domain``, ``mx`` and ``server``."""

    lab: "Lab"
    domain: str
    mx: str
    server: Any

    @property
    def address(self) -> HostAddress:
        assert self.server is not None, "the host is not started"
        return HostAddress(self.domain, self.mx, self.server.address, self.server.port)

    @property
    def cafile(self) -> str:
        """The PEM file of the simulated public root, the only trust anchor a client should load."""
        return self.lab.cafile

    @property
    def dns_server(self) -> tuple[str, int]:
        """(address, port) of the fake DNS server that answers for this host's domain."""
        return (self.lab.dns.address, self.lab.dns.port)
