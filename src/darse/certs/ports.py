"""Ports whose protocol speaks TLS, hence needs a certificate in the service itself (Traefik's HTTP
routers do not carry them). `implicit`: TLS from the first byte (a TCP router with SNI could terminate
it); otherwise the protocol upgrades a plain connection (STARTTLS), and only the service can."""

from __future__ import annotations

from typing import NamedTuple


class TlsPort(NamedTuple):
    protocol: str
    implicit: bool


TLS_PORTS: dict[int, TlsPort] = {
    465: TlsPort("SMTPS", True),
    587: TlsPort("SMTP submission, STARTTLS", False),
    636: TlsPort("LDAPS", True),
    853: TlsPort("DNS over TLS", True),
    989: TlsPort("FTPS data", True),
    990: TlsPort("FTPS", True),
    993: TlsPort("IMAPS", True),
    995: TlsPort("POP3S", True),
    3269: TlsPort("LDAPS global catalog", True),
    5061: TlsPort("SIP over TLS", True),
    5223: TlsPort("XMPP over TLS", True),
    5671: TlsPort("AMQPS", True),
    6697: TlsPort("IRC over TLS", True),
    8883: TlsPort("MQTT over TLS", True),
}
