"""The proxy network and Traefik's routing labels, and databases kept off both."""

from __future__ import annotations

import re
from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.knowledge import database_data_dirs
from darse.lint.rule import Hit, Severity, compose_file_rule, compose_service_rule
from darse.lint.rules.compose.common import is_external, publishes_publicly, service_image, traefik_labels_of
from darse.model.compose import ComposeFile, labels, networks, ports
from darse.model.yamlnode import YNode

_ROUTER_KEY = re.compile(r"^traefik\.(http|tcp|udp)\.routers\.([^.]+)\.(.+)$")
_SERVICE_KEY = re.compile(r"^traefik\.(http|tcp|udp)\.services\.([^.]+)\.")


def _traefik_enabled(node: YNode) -> bool:
    value = labels(node).get("traefik.enable")
    return value is not None and value[0].lower() == "true"


def _network_name(key: str, network: YNode) -> str:
    """The name a declared network is meant to have: `name:`, the legacy `external: {name:}`, else its key."""
    for holder in (network, network.get("external")):
        name = holder.get("name") if holder is not None else None
        text = name.text() if name is not None else None
        if text:
            return text
    return key


def _proxy_keys(compose: ComposeFile, proxy: str) -> set[str]:
    """The keys under which services of this file join the proxy network: aliases count (`proxy: {name: ...}`)."""
    section = compose.section("networks")
    if section is None:
        return {proxy}  # joined without a declaration, which DC008 reports
    keys = {key for key, network in section.items() if _network_name(key, network) == proxy}
    if proxy not in section.value:
        keys.add(proxy)
    return keys


@compose_service_rule(
    "DC007",
    "traefik-network",
    "Traefik service not on the proxy network",
    Severity.ERROR,
    """Traefik reaches containers only through its own network (`docker_default` in the guide,
    `proxy_network` in darse.toml); a service with `traefik.enable=true` elsewhere is unreachable.""",
)
def traefik_network(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _traefik_enabled(node) or node.get("network_mode") is not None:
        return
    proxy = ctx.config.proxy_network
    if not _proxy_keys(compose, proxy) & networks(node).keys():
        where = node.get("networks") or compose.service_key(name)
        yield Hit(f"service {name} has traefik.enable=true but is not on the {proxy} network", where.line, where.column)


@compose_file_rule(
    "DC008",
    "proxy-network-external",
    "Proxy network not declared external",
    Severity.ERROR,
    """The proxy network exists independently of every Compose project; declared without
    `external: true`, Compose creates a private copy named after the project, which Traefik never
    sees.""",
)
def proxy_network_external(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    proxy = ctx.config.proxy_network
    section = compose.section("networks")
    if section is not None:
        declared = [key for key, network in section.items() if _network_name(key, network) == proxy]
        for name in declared:
            if not is_external(section.get(name)):
                key = section.key_node(name)
                shown = name if name == proxy else f"{name} ({proxy})"
                yield Hit(f"network {shown} must be declared external: true", key.line, key.column)
        if declared or proxy in section.value:
            return
    users = [(n, s) for n, s in compose.services() if proxy in networks(s)]
    if users:
        name, service = users[0]
        where = networks(service)[proxy]
        yield Hit(
            f"service {name} uses network {proxy}, which is not declared (external: true)", where.line, where.column
        )


@compose_service_rule(
    "DC009",
    "traefik-labels",
    "Incomplete Traefik labels",
    Severity.ERROR,
    """Traefik needs `traefik.enable=true` and a routing rule: `traefik.frontend.rule` with
    `traefik.port` (Traefik v1, as in the guide) or `traefik.http.routers.<name>.rule` (v2/v3), each
    router's service defined. A partial set of labels silently routes nothing.""",
)
def traefik_labels(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    found = traefik_labels_of(node)
    if not found:
        return
    anchor = node.get("labels") or compose.service_key(name)
    if not _traefik_enabled(node):
        if "traefik.enable" in found:
            return  # explicitly disabled
        yield Hit(f"service {name} has Traefik labels but no traefik.enable=true", anchor.line, anchor.column)
        return
    routers: dict[str, set[str]] = {}
    services: set[str] = set()
    for key in found:
        router = _ROUTER_KEY.match(key)
        if router:
            routers.setdefault(f"{router.group(1)}:{router.group(2)}", set()).add(router.group(3))
        service = _SERVICE_KEY.match(key)
        if service:
            services.add(service.group(2))
    v1_rule = "traefik.frontend.rule" in found
    if not routers and not v1_rule:
        yield Hit(
            f"service {name} enables Traefik without a routing rule "
            "(traefik.http.routers.<name>.rule or traefik.frontend.rule)",
            anchor.line,
            anchor.column,
        )
    if v1_rule and "traefik.port" not in found:
        value = found["traefik.frontend.rule"][1]
        yield Hit("traefik.frontend.rule without traefik.port", value.line, value.column)
    for router, keys in sorted(routers.items()):
        kind, router_name = router.split(":", 1)
        if kind != "udp" and "rule" not in keys:
            yield Hit(f"router {router_name} has no rule label", anchor.line, anchor.column)
        routed_to = found.get(f"traefik.{kind}.routers.{router_name}.service")
        if routed_to and "@" not in routed_to[0] and routed_to[0] not in services:
            yield Hit(
                f"router {router_name} points at service {routed_to[0]}, which has no labels",
                routed_to[1].line,
                routed_to[1].column,
            )


@compose_service_rule(
    "DC010",
    "database-exposed",
    "Database reachable from outside its network",
    Severity.ERROR,
    """A database has no business on the proxy network or on host ports: the guide keeps it on a
    network of its own shared only with its application, so a compromised web service elsewhere
    cannot reach it.""",
)
def database_exposed(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image = service_image(node)
    if image is None or database_data_dirs(image) is None:
        return
    proxy = ctx.config.proxy_network
    joined = networks(node)
    for key in sorted(_proxy_keys(compose, proxy) & joined.keys()):
        where = joined[key]
        yield Hit(f"database {name} is on the proxy network {proxy}", where.line, where.column)
    for port in ports(node):
        if publishes_publicly(port):
            yield Hit(
                f"database {name} publishes port {port.text() or '(long syntax)'} on the host", port.line, port.column
            )
