"""Making `darse tunnel`'s plans: the folder and Compose service a name stands for, its target, and,
asked of the target's engine, the running container's address and port (`darse.tunnel.plan`).

A name is a `[tunnels.NAME]` alias of darse.toml or a service folder. An alias wins over a folder of the
same name: it is the team's saved choice (and usually names that folder anyway). `--to`, `--port` and
`--local` given on the command line override the alias's values (docs/tunnel.md). Nothing is opened here:
`darse.tunnel.run` does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from darse.backup.dumps import kind_of_image
from darse.config import find_root, load_config
from darse.engine.addresses import ContainerAddresses, container_addresses
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.errors import DarseError, did_you_mean
from darse.model.compose import ComposeFile, ports
from darse.model.repository import Repository, repository_around
from darse.model.service import project_name
from darse.model.yamlnode import YNode
from darse.tunnel.plan import SSH, TunnelPlan, alias_or_folder, choose_local, target_mode


@dataclass(frozen=True)
class _Request:
    name: str
    folder: str
    to: str
    port: int
    local: str


def tunnel_plan(
    start: Path, service: str, *, to: str | None = None, port: int | None = None, local: str | None = None
) -> TunnelPlan:
    """The plan of one tunnel: `service` is an alias of darse.toml or a service folder (see the module)."""
    return tunnel_plans(start, [service], to=to, port=port, local=local)[0]


def tunnel_plans(
    start: Path,
    names: list[str],
    *,
    to: str | None = None,
    port: int | None = None,
    local: str | None = None,
    ssh_control: Callable[[str], Path] | None = None,
) -> list[TunnelPlan]:
    """The plans of several tunnels; `to`, `port` and `local` are for one name only. `ssh_control(url)`,
    when given, is the control socket of an SSH master to an ssh:// target's host: the remote engine is
    asked through it instead of a login of its own."""
    if not names:
        raise DarseError("no tunnel named", "give a service folder or a [tunnels.NAME] alias of darse.toml")
    if len(names) > 1 and (to or port or local):
        raise DarseError("--to, --port and --local apply to one tunnel", "give one name, or save aliases in darse.toml")
    repo = repository_around(start)
    requests = [_request(repo, name, to, port, local) for name in dict.fromkeys(names)]
    engines: dict[str, Engine] = {}
    taken: set[tuple[str, int]] = set()
    plans = []
    try:
        for request in requests:
            plan = _plan(repo, request, engines, taken, ssh_control)
            taken.add((plan.local_host, plan.local_port))
            plans.append(plan)
    finally:
        for engine in engines.values():
            engine.close()
    return plans


def relocate(start: Path, plan: TunnelPlan, ssh_control: Callable[[str], Path] | None = None) -> TunnelPlan:
    """`plan` with its container's address as the engine gives it now: a redeploy re-creates the
    container, usually at another address. DarseError when it does not run (yet)."""
    target = load_config(find_root(start)).targets.get(plan.target)
    if target is None:
        raise DarseError(f"darse.toml no longer has the target {plan.target}", "open the tunnel again")
    control = ssh_control(target.host) if ssh_control is not None and plan.mode == SSH else None
    engine = connect(Endpoint.of(target), timeout=30, ssh_control=control)
    try:
        container = _running_container(engine, plan.folder, plan.service)
    finally:
        engine.close()
    usable = {name: ip for name, ip in container.networks.items() if ip}
    if plan.network in usable:
        network, address = plan.network, usable[plan.network]
    else:
        network, address = _address(container, project_name(plan.folder))
    return dataclasses.replace(plan, container=container.name, network=network, address=address)


def _request(repo: Repository, name: str, to: str | None, port: int | None, local: str | None) -> _Request:
    alias = alias_or_folder(repo.config, name)
    return _Request(alias.name, alias.service, to or alias.to, port or alias.port, local or alias.local)


def _plan(
    repo: Repository,
    request: _Request,
    engines: dict[str, Engine],
    taken: set[tuple[str, int]],
    ssh_control: Callable[[str], Path] | None = None,
) -> TunnelPlan:
    config = repo.config
    try:
        folder = repo.service(request.folder)
    except DarseError as exc:
        if request.folder == request.name:
            aliases = list(config.tunnels)
            hint = did_you_mean(request.name, [*aliases, *(s.name for s in repo.services)]) or exc.hint
            raise DarseError(f"no service folder or tunnel alias named {request.name!r}", hint) from None
        raise DarseError(f"darse.toml [tunnels.{request.name}]: {exc.message}", exc.hint) from None
    target = config.target_for(folder.name)
    mode = target_mode(target, folder.name)
    compose = _compose(folder)
    service = _compose_service(compose, folder.name, request.to)
    declared = compose_ports(dict(compose.services())[service])
    if not request.port and len(declared) > 1:
        _several(folder.name, service, declared, "expose:/ports:")
    local_host, local_port = choose_local(request.local, taken)
    engine = engines.get(target.name)
    if engine is None:
        control = ssh_control(target.host) if ssh_control is not None and mode == SSH else None
        engine = engines[target.name] = connect(Endpoint.of(target), timeout=30, ssh_control=control)
    asked = time.monotonic()
    container = _running_container(engine, folder.name, service)
    answer_time = time.monotonic() - asked
    network, address = _address(container, project_name(folder.name))
    port = request.port or _port(declared, service, container, folder.name)
    return TunnelPlan(
        name=request.name,
        folder=folder.name,
        service=service,
        target=target.name,
        mode=mode,
        host=target.host if mode == SSH else "",
        container=container.name,
        network=network,
        address=address,
        port=port,
        local_host=local_host,
        local_port=local_port,
        kind=kind_of_image(container.image),
        answer_time=answer_time,
    )


def _compose(folder: Any) -> ComposeFile:
    if folder.deploy_path is None:
        folder.deploy_file  # noqa: B018 (raises the one-line error naming the variants)
    deployed = next(unit for unit in folder.units if unit.path == folder.deploy_path)
    compose = folder.view(deployed).compose
    if not compose.readable:
        raise DarseError(f"{folder.name}: {compose.path.name} cannot be read", f"darse lint {folder.name} says why")
    return compose


def _compose_service(compose: ComposeFile, folder: str, to: str) -> str:
    names = [name for name, _node in compose.services()]
    if to:
        if to not in names:
            hint = did_you_mean(to, names) or f"its services: {', '.join(names) or 'none'}"
            raise DarseError(f"{folder} has no Compose service {to!r}", hint)
        return to
    if len(names) == 1:
        return names[0]
    if not names:
        raise DarseError(f"{folder}: {compose.path.name} defines no service", "add a service to the Compose file")
    raise DarseError(
        f"{folder} has several Compose services ({', '.join(names[:10])})", f"choose one: --to {names[-1]}"
    )


def _running_container(engine: Engine, folder: str, service: str) -> ContainerAddresses:
    project = project_name(folder)
    found = [c for c in engine.containers(project=project) if c.compose_service == service]
    running = [c for c in found if c.running]
    if not running:
        state = f" ({found[0].state})" if found else ""
        raise DarseError(
            f"{folder}: Compose service {service} is not running on {engine.url or 'the local engine'}{state}",
            f"start it with `darse up {folder}`",
        )
    chosen = sorted(running, key=lambda c: c.name)[0]  # replicas: the first, by name
    try:
        return container_addresses(engine, chosen.id)
    except engine.errors.NotFound:
        raise DarseError(f"{folder}: the container of {service} went away", "retry once it runs again") from None


def _address(container: ContainerAddresses, project: str) -> tuple[str, str]:
    """The container's network and IP: the project's default network first, else the first by name."""
    usable = {name: ip for name, ip in container.networks.items() if ip}
    if not usable:
        raise DarseError(
            f"container {container.name} has no IP address (network_mode host or none?)",
            "a container on the host's network is reached on the host's own ports",
        )
    preferred = f"{project}_default"
    name = preferred if preferred in usable else sorted(usable)[0]
    return name, usable[name]


def _port(declared: list[int], service: str, container: ContainerAddresses, folder: str) -> int:
    """The one port of `expose:`/`ports:`, else the one the container exposes (the image's EXPOSE)."""
    if len(declared) == 1:
        return declared[0]
    exposed = list(container.exposed)
    if len(exposed) == 1:
        return exposed[0]
    if not exposed:
        raise DarseError(
            f"{folder}: Compose service {service} declares no port (no expose:, ports: or EXPOSE)",
            "give the container port: --port 5432",
        )
    _several(folder, service, exposed, "the image's EXPOSE")


def _several(folder: str, service: str, found: list[int], source: str) -> NoReturn:
    listed = ", ".join(str(p) for p in found[:20])
    raise DarseError(f"{folder}: {service} listens on several ports ({listed}, from {source})", "choose one: --port N")


def compose_ports(node: YNode) -> list[int]:
    """The container ports (TCP) of a Compose service's `expose:` and `ports:`, in order, once each.
    Ranges and UDP ports are left out: a tunnel carries one TCP port."""
    found: list[int] = []
    entries = list(ports(node))
    expose = node.get("expose")
    if expose is not None and expose.is_list:
        entries += list(expose.value)
    for entry in entries:
        number = _container_port(entry)
        if number and number not in found:
            found.append(number)
    return found


def _container_port(entry: YNode) -> int:
    if entry.is_map:  # long syntax: target: 5432, protocol: tcp
        target, protocol = entry.get("target"), entry.get("protocol")
        if protocol is not None and (protocol.text() or "tcp") != "tcp":
            return 0
        text = (target.text() or "") if target is not None else ""
    else:
        text = entry.text() or ""
        text, _slash, protocol_text = text.partition("/")
        if (protocol_text or "tcp") != "tcp":
            return 0
        text = text.rsplit(":", 1)[-1]  # HOST:CONTAINER, IP:HOST:CONTAINER
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else 0
