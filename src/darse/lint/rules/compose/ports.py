"""Host ports: a web service is reached through Traefik, never on a port of the host."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.knowledge import http_ports, image_web_ports, is_proxy_image, non_http_ports
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.lint.rules.compose.common import home_made_dockerfile, publishes_publicly, service_image, traefik_labels_of
from darse.model.compose import ComposeFile, ports
from darse.model.dockerfiles import Dockerfile
from darse.model.image import ImageRef
from darse.model.yamlnode import YNode


@compose_service_rule(
    "DC006",
    "web-host-ports",
    "Web service publishes host ports",
    Severity.ERROR,
    """HTTP services go through the Traefik reverse proxy (routing by domain, certificates); their
    port is never bound on the host. A published port is a web port on evidence: a container port
    that speaks HTTP by convention (80, 443, 8080, 3000, ...), the port Traefik labels route to, or
    the web interface of a known image (`darse/data/images.toml`). Protocols Traefik's HTTP routers
    cannot carry (DNS, SSH, mail, LDAP, VPNs, anything over UDP) stay allowed, so do ports bound to
    127.0.0.1 (SSH tunnels), and the reverse proxy itself may publish 80 and 443.""",
)
def web_host_ports(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    entries = [port for port in ports(node) if publishes_publicly(port)]
    if not entries:
        return
    image = service_image(node)
    proxy = image is not None and is_proxy_image(image.name)
    if not proxy:  # a reverse proxy built on a known one (`FROM jwilder/nginx-proxy` plus a config file)
        dockerfile = home_made_dockerfile(node, ctx)
        base = _base_image(dockerfile) if dockerfile is not None else None
        proxy = base is not None and is_proxy_image(base.name)
    image_ports = image_web_ports(image.name) if image is not None else frozenset()
    routed = _traefik_ports(node)
    conventional, never = http_ports(), non_http_ports()
    for port in entries:
        published = _container_ports(port)
        if published is None:
            continue
        numbers, protocol = published
        if protocol != "tcp":
            continue  # Traefik's HTTP routers carry TCP only (HTTP/3 is the proxy's own business)
        for number in numbers:
            if proxy and number in (80, 443):
                continue
            if number in routed:
                why = f"container port {number}, which Traefik labels route to"
            elif number in image_ports:
                why = f"container port {number}, the web interface of {image.name if image else name}"
            elif number in conventional and number not in never:
                why = f"container port {number}, HTTP by convention"
            else:
                continue
            shown = f" ({port.text()})" if port.text() else ""
            yield Hit(
                f"web service {name} publishes {why}, on the host{shown}; route it through Traefik instead",
                port.line,
                port.column,
            )
            break


def _base_image(dockerfile: Dockerfile) -> ImageRef | None:
    """The image the final stage of a Dockerfile is built on, through its parent stages."""
    stage = dockerfile.final_stage
    while stage is not None and stage.parent is not None:
        stage = stage.parent
    return stage.image if stage is not None else None


_MAX_RANGE = 1024  # a range wider than this is read by its first ports only


def _container_ports(port: YNode) -> tuple[list[int], str] | None:
    """The container ports and the protocol of one `ports:` entry, short or long syntax; None if unreadable."""
    if port.is_map:
        container = port.get("target")
        protocol = port.get("protocol")
        text = (container.text() if container is not None else "") or ""
        proto = ((protocol.text() if protocol is not None else "") or "tcp").lower()
    else:
        text = port.text() or ""
        text, _, proto = text.partition("/")
        proto = (proto or "tcp").lower()
        text = text.rsplit(":", 1)[-1]
    first, _, last = text.strip().partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = int(last) if last else start
    return list(range(start, min(end, start + _MAX_RANGE) + 1)), proto


def _traefik_ports(node: YNode) -> set[int]:
    """Container ports the service's Traefik labels route HTTP to (v2/v3 loadbalancer, v1 traefik.port)."""
    found: set[int] = set()
    for key, (value, _node) in traefik_labels_of(node).items():
        routes = key == "traefik.port" or (key.startswith("traefik.http.services.") and key.endswith(".server.port"))
        if routes and value.strip().isdigit():
            found.add(int(value.strip()))
    return found
