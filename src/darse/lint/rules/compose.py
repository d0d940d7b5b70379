"""Compose rules: the guide's conventions for restart, init, networks, Traefik, volumes and secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from darse.fsutil import read_text_file
from darse.lint.context import LintContext
from darse.lint.knowledge import (
    database_data_dirs,
    entrypoint_init,
    http_ports,
    image_init,
    image_web_ports,
    is_proxy_image,
    non_http_ports,
    telltale_data_dirs,
)
from darse.lint.rule import Hit, Severity, compose_file_rule, compose_service_rule
from darse.lint.shell import split_commands
from darse.model.compose import ComposeFile, Mount, env_files, environment, is_true, labels, mounts, networks, ports
from darse.model.dockerfiles import Dockerfile
from darse.model.dotenv import parse_env
from darse.model.image import ImageRef, TagKind, moving_tag_phrase, parse_image
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX, env_file_path
from darse.model.yamlnode import YNode
from darse.secretlike import command_line_secrets, is_placeholder, is_secret_literal, secret_defaults

_LOOPBACK = ("127.", "[::1]", "localhost:")
_ROUTER_KEY = re.compile(r"^traefik\.(http|tcp|udp)\.routers\.([^.]+)\.(.+)$")
_SERVICE_KEY = re.compile(r"^traefik\.(http|tcp|udp)\.services\.([^.]+)\.")


def _image(node: YNode) -> ImageRef | None:
    image = node.get("image")
    text = image.text() if image is not None else None
    return parse_image(text) if text else None


def _publishes_publicly(port: YNode) -> bool:
    """A `ports:` entry reachable from outside the host (loopback-only bindings are tunnels' business)."""
    if port.is_map:
        host_ip = port.get("host_ip")
        return not (host_ip is not None and (host_ip.text() or "").startswith(("127.", "::1", "localhost")))
    text = port.text() or ""
    return not text.startswith(_LOOPBACK)


def _traefik_labels(node: YNode) -> dict[str, tuple[str, YNode]]:
    return {k: v for k, v in labels(node).items() if k.startswith("traefik.")}


def _traefik_enabled(node: YNode) -> bool:
    value = labels(node).get("traefik.enable")
    return value is not None and value[0].lower() == "true"


def _is_external(network_or_volume: YNode | None) -> bool:
    if network_or_volume is None:
        return False
    external = network_or_volume.get("external")
    return external is not None and (is_true(external) or external.is_map)


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


@compose_file_rule(
    "DC002",
    "compose-version-old",
    "Compose file version below 3.7",
    Severity.WARNING,
    """The guide requires at least version 3.7 (for `init: true` among others). Modern Compose
    ignores the key altogether: remove it rather than raise it.""",
)
def compose_version_old(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    version = compose.root.get("version") if compose.root else None
    if version is None:
        return
    numbers = re.findall(r"\d+", version.text() or "")
    if numbers and tuple(int(n) for n in numbers[:2]) < (3, 7):
        yield Hit(
            f"version {version.text()} is below 3.7; remove the obsolete version key", version.line, version.column
        )


@compose_file_rule(
    "DC003",
    "compose-version-obsolete",
    "Obsolete version key",
    Severity.INFO,
    """The Compose specification made the top-level `version` key obsolete: Compose v2 ignores it
    and warns. Files written for the guide's 3.7 minimum can simply drop it.""",
)
def compose_version_obsolete(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    version = compose.root.get("version") if compose.root else None
    if version is None:
        return
    numbers = re.findall(r"\d+", version.text() or "")
    if not numbers or tuple(int(n) for n in numbers[:2]) >= (3, 7):
        key = compose.root.key_node("version")
        yield Hit("the version key is obsolete in the Compose specification; remove it", key.line, key.column)


@compose_service_rule(
    "DC004",
    "restart-policy",
    "restart is not unless-stopped",
    Severity.WARNING,
    """The guide's policy is `restart: unless-stopped`: services come back after a crash or a
    reboot, but one stopped on purpose stays stopped.""",
)
def restart_policy(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if ctx.target.is_swarm:
        return  # a Swarm ignores `restart:`; SW003 asks for deploy.restart_policy there
    restart = node.get("restart")
    if restart is None:
        policy = _deploy_restart_policy(node)
        if policy is not None:
            yield from _restart_from_deploy(name, policy)
            return
        key = compose.service_key(name)
        yield Hit(f"service {name} has no restart policy; use restart: unless-stopped", key.line, key.column)
    elif restart.text() != "unless-stopped":
        yield Hit(f"restart is {restart.text()!r}; use unless-stopped", restart.line, restart.column)


def _deploy_restart_policy(node: YNode) -> YNode | None:
    deploy = node.get("deploy")
    policy = deploy.get("restart_policy") if deploy is not None and deploy.is_map else None
    return policy if policy is not None and policy.is_map else None


# What `docker compose up` makes of deploy.restart_policy.condition when `restart:` is absent
# (compose's mapRestartPolicyCondition; the specification's default condition is `any`).
_CONDITION_TO_RESTART = {"any": "always", "always": "always", "none": "no", "no": "no"}


def _restart_from_deploy(name: str, policy: YNode) -> Iterator[Hit]:
    condition = policy.get("condition")
    written = (condition.text() if condition is not None else None) or "any"
    effective = _CONDITION_TO_RESTART.get(written, written)
    if effective == "unless-stopped":
        return
    where = condition if condition is not None else policy
    shown = f"condition: {written}" + ("" if condition is not None else " by default")
    yield Hit(
        f"service {name} has no restart: key; Compose turns deploy.restart_policy ({shown}) into "
        f"restart: {effective}; use restart: unless-stopped",
        where.line,
        where.column,
    )


@compose_service_rule(
    "DC005",
    "init-missing",
    "init: true missing",
    Severity.WARNING,
    """Without `init: true`, a shell entrypoint runs as PID 1 and never passes SIGTERM to the
    application, which `docker stop` then kills after the timeout (the guide's 'Système init').
    Images that run their own init (s6-overlay, tini, dumb-init: `darse/data/init.toml`, a Compose
    `entrypoint:`, a home-made image's ENTRYPOINT) are not asked for it; DC018 covers s6-overlay.""",
)
def init_missing(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    init = node.get("init")
    if is_true(init) or own_init(name, node, ctx) is not None:
        return  # an image with its own init (s6-overlay, tini, dumb-init) needs none, s6 refuses one
    if init is None:
        key = compose.service_key(name)
        yield Hit(f"service {name} lacks init: true", key.line, key.column)
    else:
        yield Hit(f"service {name} sets init to {init.text()!r}; use init: true", init.line, init.column)


def own_init(name: str, node: YNode, ctx: LintContext) -> str | None:
    """The init a service's container already runs as PID 1, known offline: the Compose `entrypoint:`,
    the image's name (data/init.toml), or for a home-made image its Dockerfile's ENTRYPOINT or base."""
    entrypoint = node.get("entrypoint")
    if entrypoint is not None:
        first = entrypoint.value[0].text() if entrypoint.is_list and entrypoint.value else entrypoint.text()
        words = (first or "").split()
        return entrypoint_init(words[0]) if words else None
    image = _image(node)
    if image is not None:
        known = image_init(image)
        if known is not None:
            return known
    dockerfile = _home_made_dockerfile(node, ctx)
    return dockerfile_init(dockerfile) if dockerfile is not None else None


def _home_made_dockerfile(node: YNode, ctx: LintContext) -> Dockerfile | None:
    """The parsed Dockerfile of the service's folder that builds the image this Compose service runs."""
    if ctx.service is None:
        return None
    for home_made in ctx.service.home_made_images:
        if any(user is node for _name, user in home_made.users):
            dockerfile = next((d for d in ctx.service.dockerfiles if d.path == home_made.dockerfile), None)
            return dockerfile if dockerfile is not None and not dockerfile.problems else None
    return None


def _base_image(dockerfile: Dockerfile) -> ImageRef | None:
    """The image the final stage of a Dockerfile is built on, through its parent stages."""
    stage = dockerfile.final_stage
    while stage is not None and stage.parent is not None:
        stage = stage.parent
    return stage.image if stage is not None else None


def dockerfile_init(dockerfile: Dockerfile) -> str | None:
    """The init an image built from this Dockerfile runs: its last ENTRYPOINT, else its base image's."""
    stage = dockerfile.final_stage
    while stage is not None:
        entrypoints = [i for i in stage.instructions if i.cmd == "ENTRYPOINT"]
        if entrypoints:
            args = entrypoints[-1].args
            words = list(args) if entrypoints[-1].json else (args[0].split() if args else [])
            return entrypoint_init(words[0]) if words else None
        if stage.parent is None:
            image = stage.image
            return image_init(image) if image is not None else None
        stage = stage.parent
    return None


@compose_service_rule(
    "DC018",
    "init-conflict",
    "init: true on an image whose init must be PID 1",
    Severity.ERROR,
    """s6-overlay (every linuxserver image, hotio, Home Assistant, Nginx Proxy Manager, any image
    whose entrypoint is `/init`) must run as PID 1: with `init: true` Docker's init takes PID 1 and
    the container stops at once ("s6-overlay-suexec: fatal: can only run as pid 1"). Such images
    already forward signals; remove `init: true`. The list of images is data (`darse/data/init.toml`).""",
)
def init_conflict(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    init = node.get("init")
    if is_true(init) and own_init(name, node, ctx) == "s6-overlay":
        assert init is not None
        yield Hit(
            f"service {name} runs s6-overlay, which refuses to start when init: true takes PID 1; remove init",
            init.line,
            init.column,
        )


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
    entries = [port for port in ports(node) if _publishes_publicly(port)]
    if not entries:
        return
    image = _image(node)
    proxy = image is not None and is_proxy_image(image.name)
    if not proxy:  # a reverse proxy built on a known one (`FROM jwilder/nginx-proxy` plus a config file)
        dockerfile = _home_made_dockerfile(node, ctx)
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


_MAX_RANGE = 1024  # a range wider than this is read by its first ports only


def _container_ports(port: YNode) -> tuple[list[int], str] | None:
    """The container ports and the protocol of one `ports:` entry, short or long syntax; None if unreadable."""
    if port.is_map:
        target = port.get("target")
        protocol = port.get("protocol")
        text = (target.text() if target is not None else "") or ""
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
    for key, (value, _node) in _traefik_labels(node).items():
        routes = key == "traefik.port" or (key.startswith("traefik.http.services.") and key.endswith(".server.port"))
        if routes and value.strip().isdigit():
            found.add(int(value.strip()))
    return found


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
            if not _is_external(section.get(name)):
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
    found = _traefik_labels(node)
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
        target = found.get(f"traefik.{kind}.routers.{router_name}.service")
        if target and "@" not in target[0] and target[0] not in services:
            yield Hit(
                f"router {router_name} points at service {target[0]}, which has no labels",
                target[1].line,
                target[1].column,
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
    image = _image(node)
    if image is None or database_data_dirs(image) is None:
        return
    proxy = ctx.config.proxy_network
    joined = networks(node)
    for key in sorted(_proxy_keys(compose, proxy) & joined.keys()):
        where = joined[key]
        yield Hit(f"database {name} is on the proxy network {proxy}", where.line, where.column)
    for port in ports(node):
        if _publishes_publicly(port):
            yield Hit(
                f"database {name} publishes port {port.text() or '(long syntax)'} on the host", port.line, port.column
            )


@compose_file_rule(
    "DC011",
    "volume-external",
    "Volume declared external",
    Severity.WARNING,
    """The guide avoids `external` volumes: a volume made outside Compose can be used without the
    flag, while an external volume that does not exist yet makes every Compose command fail.""",
)
def volume_external(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    section = compose.section("volumes")
    if section is None:
        return
    for volume_name, volume in section.items():
        if _is_external(volume):
            key = section.key_node(volume_name)
            yield Hit(
                f"volume {volume_name} is declared external; declare it normally (name: if needed)",
                key.line,
                key.column,
            )


@compose_service_rule(
    "DC012",
    "data-on-volume",
    "Database data directory not on a named volume",
    Severity.ERROR,
    """A database's data directory (`/var/lib/postgresql/data`, `/var/lib/mysql`, ...) must be a
    named Docker volume, or the data goes with the container (the guide's 'Volumes Docker').
    Known images and their directories are data (`darse/data/images.toml`); an image darse does not
    know is a database when it mounts a directory only databases use (`/var/lib/postgresql/data`).""",
)
def data_on_volume(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image = _image(node)
    data_dirs = database_data_dirs(image) if image is not None else None
    if data_dirs is None:  # an image darse does not know, mounted where a database keeps its data
        data_dirs = [m.target.rstrip("/") for m in mounts(node) if m.target.rstrip("/") in telltale_data_dirs()]
    if not data_dirs or _cache_only(image, node):
        return
    env = environment(node)
    pgdata = env.get("PGDATA")
    if pgdata is not None and pgdata.text():
        data_dirs = [pgdata.text() or ""]
    service_mounts = mounts(node)
    for data_dir in data_dirs:
        covering = [m for m in service_mounts if m.target and _covers(m.target, data_dir)]
        if not covering:
            key = compose.service_key(name)
            yield Hit(
                f"database {name} keeps {data_dir} in the container's own layer, lost when the container is "
                "recreated; mount a named volume there",
                key.line,
                key.column,
            )
        elif covering[-1].kind != "volume":
            mount = covering[-1]
            yield Hit(
                f"{data_dir} of {name} {_mount_phrase(mount)}; use a named volume", mount.node.line, mount.node.column
            )


_REDIS_LIKE = {"redis", "valkey", "keydb"}


def _cache_only(image: ImageRef | None, node: YNode) -> bool:
    """A Redis run with snapshots off (`--save ""`) and no append-only file writes nothing to /data:
    a cache that starts empty by design (seen in searxng's Compose file), not a database to keep."""
    if image is None or image.name not in _REDIS_LIKE:
        return False
    command = node.get("command")
    if command is None:
        return False
    if command.is_list:
        words = [item.text() or "" for item in command.value]
    else:
        words = [word for part in split_commands(command.text() or "") for word in part]
    pairs = dict(zip(words, [*words[1:], None], strict=True))
    return "--save" in pairs and pairs["--save"] in ("", None) and pairs.get("--appendonly", "no") != "yes"


def _mount_phrase(mount: Mount) -> str:
    """What really holds the data, said plainly: a host folder, an unnamed volume, memory."""
    if mount.kind == "bind":
        return f"is a bind mount of the host folder {mount.source}" if mount.source else "is a bind mount"
    if mount.kind == "anonymous":
        return "is on an anonymous volume, which no name finds again after docker compose down"
    if mount.kind == "tmpfs":
        return "is on a tmpfs mount, in memory: lost at every restart"
    return f"is on a {mount.kind} mount"


def _covers(target: str, directory: str) -> bool:
    target = target.rstrip("/") or "/"
    return directory == target or directory.startswith(target + "/")


@compose_service_rule(
    "DC013",
    "bind-source-missing",
    "Relative bind mount source missing",
    Severity.ERROR,
    """A relative bind mount points at a file versioned next to the Compose file; if it is not in
    the repository, Docker silently creates an empty directory in its place on deploy. Real secret
    files are checked by RP004 instead.""",
)
def bind_source_missing(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    base = compose.path.parent
    for mount in mounts(node):
        # long syntax resolves `source: conf` against the Compose file too, not only `./conf`
        if mount.kind != "bind" or not mount.source or mount.source.startswith(("/", "~", "$")):
            continue
        source = base / mount.source
        if source.name.endswith((SECRET_SUFFIX, EXAMPLE_SUFFIX)) or Path(str(source) + EXAMPLE_SUFFIX).exists():
            continue
        if not source.exists():
            yield Hit(
                f"bind mount source {mount.source} does not exist in the repository", mount.node.line, mount.node.column
            )


@compose_service_rule(
    "DC014",
    "secret-in-environment",
    "Secret written in the Compose file",
    Severity.ERROR,
    """The repository is public: passwords, tokens and keys go in an env_file secret (a real
    `*.secrets` file on the host, with its committed `*.secrets.example`), never as a literal in the
    Compose file: not in `environment:`, not as the default of a `${VAR:-default}` reference, not on
    a command line (`redis-server --requirepass ...`, `--password=...`). `${VAR}` references are
    fine. A placeholder (`<YOUR-TOKEN>`, `!changeme!`) is reported too: it belongs in the example
    secret file.""",
)
def secret_in_environment(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    for key, value in environment(node).items():
        written = value.raw if value.raw is not None else value.text()  # as written, before interpolation
        if value.value is None or written is None:
            continue
        if is_secret_literal(key, written):
            if is_placeholder(written):
                yield Hit(
                    f"{key} of service {name} holds a placeholder; move it into an example secret file "
                    "(NAME.secrets.example) read through env_file",
                    value.line,
                    value.column,
                )
            else:
                yield Hit(
                    f"{key} of service {name} is a literal secret; move it to an env_file", value.line, value.column
                )
        for variable in secret_defaults(written, key):
            yield Hit(
                f"the default of ${{{variable}}} in {key} of service {name} is a literal secret; "
                "drop the default and set it in an env_file",
                value.line,
                value.column,
            )
    for where, script in _command_lines(node):
        for flag in command_line_secrets(script):
            yield Hit(
                f"service {name} passes {flag} a literal secret on its command line; "
                "read it from the environment ($$VAR) set by an env_file",
                where.line,
                where.column,
            )


def _command_lines(node: YNode) -> Iterator[tuple[YNode, str]]:
    """`command`, `entrypoint` and `healthcheck.test` as written (before interpolation), item by item."""
    healthcheck = node.get("healthcheck")
    for holder in (node.get("command"), node.get("entrypoint"), healthcheck.get("test") if healthcheck else None):
        if holder is None:
            continue
        items = holder.value if holder.is_list else [holder]
        if holder.is_list:
            text = " ".join(_shell_word(item) for item in items)
            yield holder, text
        else:
            text = holder.raw if holder.raw is not None else holder.text()
            if text:
                yield holder, text


def _shell_word(item: YNode) -> str:
    text = item.raw if item.raw is not None else (item.text() or "")
    return text if " " not in text else f"{text} ;"  # `sh -c "script"`: the script's own words count


@compose_file_rule(
    "DC019",
    "secret-in-env-file",
    "Secret in an env file tracked by Git",
    Severity.ERROR,
    """An `env_file:` that is not a `*.secrets` file, or the `.env` Compose reads by itself, is
    published with the repository when Git tracks it: a password written there is leaked. Move it
    to a real `NAME.secrets` file (ignored by Git) with its committed `NAME.secrets.example`, remove
    the tracked file from the index and rotate the secret. In a Git repository only the files Git
    tracks are checked (outside one, every file is meant to be committed); real
    `*.secrets` files tracked by Git are RP006's business.""",
)
def secret_in_env_file(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    repo = ctx.repository
    if repo is None:
        return
    in_git = repo.git.is_repository  # outside Git, every file of the folder is meant to be committed
    tracked = repo.git.tracked if in_git else set()
    candidates: dict[Path, None] = {compose.path.parent / ".env": None}
    for _name, node in compose.services():
        for ref in env_files(node):
            path = env_file_path(compose.path, ref.path)
            if path is not None:
                candidates[path] = None
    for path in candidates:
        if path.name.endswith((SECRET_SUFFIX, EXAMPLE_SUFFIX)) or (in_git and repo.relative(path) not in tracked):
            continue
        yield from _env_file_secrets(path, "Git tracks the file" if in_git else "the file is meant for Git")


_ENV_FILE_LIMIT = 1 << 20  # an env file larger than this is not read (untrusted input stays bounded)


def _env_file_secrets(path: Path, published: str) -> Iterator[Hit]:
    try:
        text = read_text_file(path, limit=_ENV_FILE_LIMIT, errors="replace")
    except OSError:  # UnsafeFile (a link out, a FIFO, too large) included: RP009 reports those
        return
    lines = text.splitlines()
    read_by = "Compose reads .env by itself and " if path.name == ".env" else ""
    for entry in parse_env(text):
        if not is_secret_literal(entry.key, entry.value):
            continue
        column = lines[entry.line - 1].find(entry.key) + 1 if entry.line <= len(lines) else 1
        if is_placeholder(entry.value):
            message = (
                f"{entry.key} in {path.name} holds a placeholder; {read_by}{published}: move it into "
                "an example secret file (NAME.secrets.example)"
            )
        else:
            message = (
                f"{entry.key} in {path.name} is a literal secret; {read_by}{published}, so it is "
                "published: move it to a NAME.secrets file and rotate it"
            )
        yield Hit(message, entry.line, max(column, 1), path)


@compose_service_rule(
    "DC015",
    "image-tag",
    "Image without a pinned tag",
    Severity.ERROR,
    """`image:` without a tag, with `latest`, or with a channel tag (`alpine`, `stable`, `lts`,
    `edge`, `main`, `dev`, `latest-alpine`, ...) deploys whatever the registry holds that day:
    rolling back to an old commit no longer brings back the old image. Major-only tags are DC017's
    business.""",
)
def image_tag(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image_node = node.get("image")
    image = _image(node)
    if image_node is None or image is None or image.tag_kind not in (TagKind.LATEST, TagKind.CHANNEL):
        return
    yield Hit(
        f"image {image_node.text()} {moving_tag_phrase(image)}; pin a version", image_node.line, image_node.column
    )


@compose_service_rule(
    "DC017",
    "image-tag-major",
    "Image tagged with a major version only",
    Severity.WARNING,
    """A major-only tag (`postgres:16`, `redis:7-alpine`) follows every minor release: a
    redeploy or a rollback to an old commit may run another image than the one tested. Pin at
    least major.minor (`postgres:16.4`) or a digest.""",
)
def image_tag_major(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image_node = node.get("image")
    image = _image(node)
    if image_node is not None and image is not None and image.tag_kind is TagKind.MAJOR:
        yield Hit(
            f"image {image_node.text()} names a major version only; pin major.minor or a digest",
            image_node.line,
            image_node.column,
        )


@compose_service_rule(
    "DC016",
    "build-in-deploy",
    "build: in a deployed Compose file",
    Severity.WARNING,
    """Deployed Compose files name an image (`image:`), built beforehand by `darse build` and kept
    in the registry; building on the production host makes what runs depend on that host.""",
)
def build_in_deploy(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if node.get("build") is not None:
        section = node
        key = section.key_node("build")
        yield Hit(
            f"service {name} builds its image on deploy; build with darse build and use image:", key.line, key.column
        )


@compose_service_rule(
    "DC020",
    "no-image",
    "Service with neither image: nor build:",
    Severity.ERROR,
    """Compose refuses a service that names no image and no build context ("has neither an image nor
    a build context specified"): the file cannot be deployed as it is. A file written to be merged
    onto another (`-f compose.yaml -f extra.yml`) is linted merged when none of its services names
    an image; a service it adds must still name one.""",
)
def no_image(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if node.get("image") is None and node.get("build") is None and node.get("extends") is None:
        key = compose.service_key(name)
        yield Hit(f"service {name} has neither image: nor build:; Compose refuses it", key.line, key.column)
