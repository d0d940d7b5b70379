"""TLS services that are not web services (LDAPS, mail, MQTT...): the certificates Traefik obtains,
handed over by `darse certs` as the service's `darse.certs.*` labels ask (docs/certs.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from darse.certs.labels import DIR, DOMAINS, has_certs_labels, parse_consumer
from darse.certs.names import covers, normalize_domain
from darse.certs.ports import TLS_PORTS
from darse.lint.context import LintContext
from darse.lint.knowledge import is_proxy_image
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.lint.rules.compose.common import publishes_publicly, service_image
from darse.lint.rules.compose.ports import _container_ports
from darse.model.compose import ComposeFile, labels, ports
from darse.model.yamlnode import YNode

_ROUTER = re.compile(
    r"^traefik\.(http|tcp)\.routers\.([^.]+)\.(rule|tls\.certresolver|tls\.domains\[(\d+)\]\.(main|sans))$"
)
_V1_RULE = re.compile(r"^traefik\.(?:[^.]+\.)?frontend\.rule$")
_HOST_CALL = re.compile(r"\bHost(?:SNI)?\s*\(([^)]*)\)")
_QUOTED = re.compile(r"[`\"']([^`\"']+)[`\"']")
_V1_HOST = re.compile(r"\bHost\s*:\s*([^;]+)")


@compose_service_rule(
    "CT001",
    "tls-port-without-certs",
    "TLS port without darse.certs labels",
    Severity.WARNING,
    """A service publishing a TLS port (LDAPS 636, SMTPS 465, submission 587, IMAPS 993, POP3S 995,
    MQTT 8883, XMPP 5223, SIP 5061, IRC 6697, FTPS 990, ...) serves a certificate Traefik's HTTP
    routers cannot give it. Declared by `darse.certs.domains` and `darse.certs.dir` labels, the
    certificate Traefik obtains from Let's Encrypt is installed and renewed in the service by `darse
    certs`; without them, it is nobody's job and expires unnoticed. Ports bound to 127.0.0.1 and the
    reverse proxy itself are left alone.""",
)
def tls_port_without_certs(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if has_certs_labels(node):
        return
    image = service_image(node)
    if image is not None and is_proxy_image(image.name):
        return  # Traefik (or another proxy) terminating TLS with its own certificates
    found: list[int] = []
    anchor: YNode | None = None
    for port in ports(node):
        published = _container_ports(port) if publishes_publicly(port) else None
        if published is None or published[1] != "tcp":
            continue
        for number in published[0]:
            if number in TLS_PORTS and number not in found:
                found.append(number)
                anchor = anchor or port
    if anchor is None:
        return
    shown = ", ".join(f"{n} ({TLS_PORTS[n].protocol})" for n in found)
    yield Hit(
        f"service {name} publishes TLS port{'s' if len(found) > 1 else ''} {shown} without darse.certs labels: "
        "declare darse.certs.domains and darse.certs.dir so that darse certs installs and renews its certificate",
        anchor.line,
        anchor.column,
    )


@compose_service_rule(
    "CT002",
    "certs-domain-not-requested",
    "Consumer's domain that no Traefik router requests",
    Severity.WARNING,
    """Traefik obtains a certificate only for a domain a router asks for: a
    `traefik.http.routers.NAME.rule` with ``Host(`domain`)`` (or `tls.domains[n].main`/`sans`) and a
    `tls.certresolver`, on any service of the repository (the consumer itself, as docs/certs.md shows;
    `darse new --tls-domain` writes it), or a Traefik v1 `frontend.rule` with `Host:`. Wildcards count:
    `*.example.org` serves `ldap.example.org`. Without such a router the certificate never exists and
    the consumer receives nothing. A router declared in Traefik's own file configuration is invisible
    here: silence the finding for it.""",
)
def certs_domain_not_requested(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    consumer, problems = parse_consumer(name, node)
    if consumer is None or problems:
        return
    resolver = consumer.resolver or ctx.config.certs.resolver
    requested = _requested_names(compose, ctx)
    missing = [
        domain
        for domain in consumer.domains
        if not any(covers(name_, domain) and (not resolver or r in ("", resolver)) for name_, r in requested)
    ]
    if missing:
        where = labels(node)[DOMAINS][1]
        through = f" through resolver {resolver}" if resolver else ""
        yield Hit(
            f"no Traefik router requests a certificate for {', '.join(missing)}{through}: add a router with "
            f"Host(`{missing[0]}`) and tls.certresolver (docs/certs.md), or Traefik never obtains it",
            where.line,
            where.column,
        )


@compose_service_rule(
    "CT003",
    "certs-label-invalid",
    "Invalid darse.certs label",
    Severity.ERROR,
    """`darse certs` refuses a consumer whose labels it cannot read: domains that are not host names,
    a `files` list without a key or a certificate, an owner that is not a numeric `uid:gid`, a key
    mode that is not octal or lets every user read the key, a reload that is none of `restart`,
    `signal:NAME`, `exec:COMMAND`, an unknown `darse.certs.*` label (a typo would silently change
    nothing). docs/certs.md lists them all.""",
)
def certs_label_invalid(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    _consumer, problems = parse_consumer(name, node)
    for problem in problems:
        yield Hit(problem.message, problem.line, problem.column)


@compose_service_rule(
    "CT004",
    "certs-dir-not-mounted",
    "darse.certs.dir outside the service's volumes",
    Severity.ERROR,
    """`darse certs` writes the files into the consumer's volume or bind mount, never into a
    container's own layer (lost on the next `up`): `darse.certs.dir` must be the target of one of the
    service's named volumes or bind mounts, or a folder inside one. On a Swarm target the files
    become Swarm secrets instead, and this rule does not apply.""",
)
def certs_dir_not_mounted(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    consumer, problems = parse_consumer(name, node)
    if consumer is None or problems or consumer.mount is not None or (ctx.service is not None and ctx.target.is_swarm):
        return
    where = labels(node)[DIR][1]
    yield Hit(
        f"{DIR} {consumer.dir} is in none of service {name}'s named volumes or bind mounts: mount a volume "
        f"there (darse new --tls-domain does) so that the certificates reach the service",
        where.line,
        where.column,
    )


# --- the domains Traefik routers request, in the whole repository -----------------------------------

_cache: dict[int, tuple[object, list[tuple[str, str]]]] = {}


def _requested_names(compose: ComposeFile, ctx: LintContext) -> list[tuple[str, str]]:
    """(name, resolver) of every certificate Traefik routers request: from this file and from every
    service folder of the repository (read once per lint run; v1 rules have resolver "")."""
    repository = ctx.repository
    names = requested_by(compose)
    if repository is None:
        return names
    cached = _cache.get(id(repository))
    if cached is None or cached[0] is not repository:
        found: list[tuple[str, str]] = []
        for service in repository.services:
            if service.compose.readable:
                found += requested_by(service.compose)
        _cache.clear()
        _cache[id(repository)] = cached = (repository, found)
    return names + cached[1]


def requested_by(compose: ComposeFile) -> list[tuple[str, str]]:
    """(name, resolver) of the certificates the Traefik labels of a Compose file's services request."""
    out: list[tuple[str, str]] = []
    for _name, node in compose.services():
        found = labels(node)
        enabled = found.get("traefik.enable")
        if enabled is not None and enabled[0].strip().lower() == "false":
            continue
        routers: dict[tuple[str, str], dict[str, list[str]]] = {}
        for key, (value, _where) in found.items():
            match = _ROUTER.match(key)
            if match:
                router = routers.setdefault((match.group(1), match.group(2)), {})
                field = "domains" if match.group(4) is not None else match.group(3)
                router.setdefault(field, []).append(value)
            elif _V1_RULE.match(key):
                out += [(host, "") for host in _v1_hosts(value)]
        for router in routers.values():
            resolvers = router.get("tls.certresolver", [])
            if not resolvers and "domains" not in router:
                continue
            domains = [d for value in router.get("domains", []) for d in value.split(",")]
            hosts = domains or [h for rule in router.get("rule", []) for h in _hosts(rule)]
            out += [(host, resolvers[0].strip() if resolvers else "") for host in _normal(hosts)]
    return out


def _hosts(rule: str) -> list[str]:
    return [host for args in _HOST_CALL.findall(rule) for host in _QUOTED.findall(args)]


def _v1_hosts(rule: str) -> list[str]:
    return _normal([host for hosts in _V1_HOST.findall(rule) for host in hosts.split(",")])


def _normal(names: list[str]) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(normalize_domain(name))
        except ValueError:
            continue  # HostSNI(`*`), a regular expression, a variable left empty: requests no certificate
    return out
