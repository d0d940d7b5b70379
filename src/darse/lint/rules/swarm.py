"""Rules for services whose target is a Swarm (darse.toml `target`): keys `docker stack deploy` drops or refuses.

The lists follow the Docker CLI's own Compose loader for stacks (its `UnsupportedProperties`,
`DeprecatedProperties` and `ForbiddenProperties`), trimmed of keys that engines with API >= 1.41
(Docker 20.10, the oldest engine darse supports) do run on a Swarm: cap_add, cap_drop, sysctls, ulimits.
They run only for Swarm targets, so the same folder stays clean for Compose.
"""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.model.compose import ComposeFile
from darse.model.yamlnode import YNode

# Dropped with a warning by `docker stack deploy`: the service runs, without what the key asked for.
IGNORED_KEYS = {
    "build": "a Swarm runs images from a registry: build and push them (`darse build`, `darse push`)",
    "cgroup_parent": "not supported by Swarm services",
    "cgroupns_mode": "not supported by Swarm services",
    "container_name": "Swarm names tasks itself (SERVICE.N.ID)",
    "devices": "Swarm services cannot map host devices",
    "domainname": "not supported by Swarm services",
    "external_links": "links do not exist on overlay networks: use a shared network",
    "ipc": "not supported by Swarm services",
    "links": "links do not exist on overlay networks: services reach each other by name on a shared network",
    "mac_address": "not supported by Swarm services",
    "network_mode": "Swarm services join networks: declare them under networks:",
    "pid": "not supported by Swarm services",
    "privileged": "Swarm services cannot run privileged",
    "security_opt": "not supported by Swarm services",
    "shm_size": "not supported by Swarm services",
    "userns_mode": "not supported by Swarm services",
}

# Refused outright: `docker stack deploy` stops with an error.
REJECTED_KEYS = {
    "extends": "stacks do not support extends: write the service out",
    "volume_driver": "declare a top-level volume with its driver instead",
    "volumes_from": "share a named volume declared at the top level instead",
    "cpu_quota": "set limits under deploy.resources",
    "cpu_shares": "set limits under deploy.resources",
    "cpuset": "set limits under deploy.resources",
    "mem_limit": "set limits under deploy.resources.limits.memory",
    "memswap_limit": "set limits under deploy.resources",
}


def _on_swarm(ctx: LintContext) -> bool:
    return ctx.service is not None and ctx.target.is_swarm


@compose_service_rule(
    "SW001",
    "swarm-ignored-key",
    "key ignored by docker stack deploy",
    Severity.WARNING,
    """On a Swarm target the service is deployed with `docker stack deploy`, which silently drops
    these keys (`build`, `container_name`, `links`, `network_mode`, `privileged`, `devices`, ...): the
    service would run without what the file asks for. Only services whose darse.toml target is a Swarm
    are checked.""",
)
def swarm_ignored_key(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _on_swarm(ctx):
        return
    for key, why in IGNORED_KEYS.items():
        if node.get(key) is not None:
            where = node.key_node(key)
            yield Hit(f"{key} is ignored on a Swarm ({why})", where.line, where.column)


@compose_service_rule(
    "SW002",
    "swarm-rejected-key",
    "key refused by docker stack deploy",
    Severity.ERROR,
    """`docker stack deploy` refuses these keys (`extends`, `volumes_from`, `mem_limit`, `cpu_shares`, ...)
    and `depends_on` with conditions: the deployment of a Swarm-target service would fail.""",
)
def swarm_rejected_key(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _on_swarm(ctx):
        return
    for key, why in REJECTED_KEYS.items():
        if node.get(key) is not None:
            where = node.key_node(key)
            yield Hit(f"{key} is refused by docker stack deploy ({why})", where.line, where.column)
    depends_on = node.get("depends_on")
    if depends_on is not None and depends_on.is_map:
        where = node.key_node("depends_on")
        yield Hit(
            "depends_on with conditions is refused by docker stack deploy; list the names, and let healthchecks "
            "and restarts handle the order",
            where.line,
            where.column,
        )


@compose_service_rule(
    "SW003",
    "swarm-restart-policy",
    "restart instead of deploy.restart_policy",
    Severity.WARNING,
    """A Swarm ignores `restart:`; the guide's `unless-stopped` intent is written as
    `deploy.restart_policy` (condition `any` or `on-failure`) for Swarm targets.""",
)
def swarm_restart_policy(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _on_swarm(ctx):
        return
    restart = node.get("restart")
    deploy = node.get("deploy")
    has_policy = deploy is not None and deploy.get("restart_policy") is not None
    if restart is not None and not has_policy:
        where = node.key_node("restart")
        yield Hit(
            f"restart: {restart.text()} is ignored on a Swarm; write deploy.restart_policy (condition: any)",
            where.line,
            where.column,
        )


@compose_service_rule(
    "SW004",
    "swarm-depends-on",
    "depends_on has no effect on a Swarm",
    Severity.INFO,
    """A Swarm starts the services of a stack in any order; `depends_on` is dropped. The service must
    wait for what it needs itself (retries, a healthcheck and the restart policy).""",
)
def swarm_depends_on(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _on_swarm(ctx):
        return
    depends_on = node.get("depends_on")
    if depends_on is not None and depends_on.is_list:
        where = node.key_node("depends_on")
        yield Hit("depends_on is ignored on a Swarm: services start in any order", where.line, where.column)


@compose_service_rule(
    "SW005",
    "swarm-split-volume",
    "replicas sharing a local volume",
    Severity.WARNING,
    """A named volume of the `local` driver lives on one node. On a Swarm, a service with more than one
    replica (or `mode: global`) gets such a volume on every node its tasks land on, each one empty and
    separate: the data splits. Keep one replica, pin the service to one node with a placement
    constraint, or use a volume driver the nodes share. (`darse up` checks it again against the real
    nodes: on a one-node Swarm nothing splits.)""",
)
def swarm_split_volume(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if not _on_swarm(ctx):
        return
    deploy = node.get("deploy")
    mode = deploy.get("mode") if deploy is not None else None
    replicas = deploy.get("replicas") if deploy is not None else None
    several = (mode is not None and mode.text() == "global") or (
        replicas is not None and (replicas.text() or "").isdigit() and int(replicas.text() or "0") > 1
    )
    placement = deploy.get("placement") if deploy is not None else None
    pinned = placement is not None and _pins_one_node(placement.get("constraints"))
    if not several or pinned:
        return
    for volume in _local_volume_mounts(node, compose):
        where = node.key_node("volumes")
        count = (
            "global"
            if mode is not None and mode.text() == "global"
            else f"{replicas.text() if replicas else ''} replicas"
        )
        yield Hit(
            f"{count} share the local volume {volume}: each node gets its own copy and the data splits "
            "(one replica, a constraint pinning one node, or a shared volume driver)",
            where.line,
            where.column,
        )


def _pins_one_node(constraints: YNode | None) -> bool:
    """A constraint naming one node (`node.hostname==` or `node.id==`)."""
    if constraints is None or not constraints.is_list:
        return False
    texts = [(item.text() or "").replace(" ", "") for item in constraints.value]
    return any(t.startswith(("node.hostname==", "node.id==")) for t in texts)


def _local_volume_mounts(node: YNode, compose: ComposeFile) -> list[str]:
    """The named volumes the service mounts that the file declares with the local driver (or none)."""
    mounts = node.get("volumes")
    declared = compose.section("volumes")
    if mounts is None or not mounts.is_list:
        return []
    found = []
    for mount in mounts.value:
        if mount.is_map:
            kind, source = mount.get("type"), mount.get("source")
            if (kind is not None and kind.text() != "volume") or source is None:
                continue
            name = source.text() or ""
        else:
            text = mount.text() or ""
            name = text.split(":", 1)[0] if ":" in text else ""
        if not name or name.startswith(("/", ".", "~", "$")):
            continue
        entry = declared.get(name) if declared is not None and declared.is_map else None
        if entry is None:
            continue  # not a named volume of this file (Compose would refuse it anyway)
        driver = entry.get("driver") if entry.is_map else None
        external = entry.get("external") if entry.is_map else None
        if (driver is None or driver.text() == "local") and external is None and name not in found:
            found.append(name)
    return found
