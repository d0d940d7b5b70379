"""How a service's container comes back and stops: the restart policy and the init that is PID 1."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.knowledge import entrypoint_init, image_init
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.lint.rules.compose.common import home_made_dockerfile, service_image
from darse.model.compose import ComposeFile, is_true
from darse.model.dockerfiles import Dockerfile
from darse.model.yamlnode import YNode


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
    image = service_image(node)
    if image is not None:
        known = image_init(image)
        if known is not None:
            return known
    dockerfile = home_made_dockerfile(node, ctx)
    return dockerfile_init(dockerfile) if dockerfile is not None else None


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
