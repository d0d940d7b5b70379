"""Compose rules: the guide's conventions for restart, init, networks, Traefik, volumes and secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from darse.lint.context import LintContext
from darse.lint.knowledge import database_data_dirs, is_proxy_image, is_web_image
from darse.lint.rule import Hit, Severity, compose_file_rule, compose_service_rule
from darse.model.compose import ComposeFile, environment, is_true, labels, mounts, networks, ports
from darse.model.image import ImageRef, TagKind, moving_tag_phrase, parse_image
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX
from darse.model.yamlnode import YNode
from darse.secretlike import is_secret_literal

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
        key = compose.service_key(name)
        yield Hit(f"service {name} has no restart policy; use restart: unless-stopped", key.line, key.column)
    elif restart.text() != "unless-stopped":
        yield Hit(f"restart is {restart.text()!r}; use unless-stopped", restart.line, restart.column)


@compose_service_rule(
    "DC005",
    "init-missing",
    "init: true missing",
    Severity.WARNING,
    """Without `init: true`, a shell entrypoint runs as PID 1 and never passes SIGTERM to the
    application, which `docker stop` then kills after the timeout (the guide's 'Système init').""",
)
def init_missing(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    init = node.get("init")
    if init is None:
        key = compose.service_key(name)
        yield Hit(f"service {name} lacks init: true", key.line, key.column)
    elif not is_true(init):
        yield Hit(f"service {name} sets init to {init.text()!r}; use init: true", init.line, init.column)


@compose_service_rule(
    "DC006",
    "web-host-ports",
    "Web service publishes host ports",
    Severity.ERROR,
    """HTTP services go through the Traefik reverse proxy (routing by domain, certificates); their
    port is never bound on the host. Ports bound to 127.0.0.1 only are allowed (SSH tunnels), and
    the reverse proxy itself may publish 80 and 443.""",
)
def web_host_ports(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image = _image(node)
    if image is not None and is_proxy_image(image.name):
        return
    is_web = bool(_traefik_labels(node)) or (image is not None and is_web_image(image.name))
    if not is_web:
        return
    for port in ports(node):
        if _publishes_publicly(port):
            yield Hit(
                f"web service {name} publishes port {port.text() or '(long syntax)'} on the host; "
                "route it through Traefik instead",
                port.line,
                port.column,
            )


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
    if image is None or database_data_dirs(image.name) is None:
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
    Known images and their directories are data (`darse/data/images.toml`).""",
)
def data_on_volume(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image = _image(node)
    data_dirs = database_data_dirs(image.name) if image is not None else None
    if not data_dirs:
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
                f"database {name} keeps {data_dir} in the container; mount a named volume there", key.line, key.column
            )
        elif covering[-1].kind != "volume":
            mount = covering[-1]
            yield Hit(
                f"{data_dir} of {name} is on a {mount.kind} mount; use a named volume",
                mount.node.line,
                mount.node.column,
            )


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
    "Secret written in environment:",
    Severity.ERROR,
    """The repository is public: passwords, tokens and keys go in an env_file secret (a real
    `*.secrets` file on the host, with its committed `*.secrets.example`), never as a literal in the
    Compose file. `${VAR}` references are fine.""",
)
def secret_in_environment(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    for key, value in environment(node).items():
        written = value.raw if value.raw is not None else value.text()  # as written, before interpolation
        if value.value is not None and is_secret_literal(key, written):
            yield Hit(f"{key} of service {name} is a literal secret; move it to an env_file", value.line, value.column)


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
    yield Hit(f"image {image_node.text()} {moving_tag_phrase(image)}; pin a version", image_node.line, image_node.column)


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
