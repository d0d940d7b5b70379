"""Which services go to a Swarm, and which stack member a `wiki/web` names: model only, cheap to import
(`darse up` on Compose alone never loads the rest of the Swarm library)."""

from __future__ import annotations

from darse.deploy.context import DeployContext
from darse.errors import DarseError
from darse.model.repository import Repository
from darse.model.service import Service


def split_by_target(ctx: DeployContext, services: list[Service]) -> tuple[list[Service], list[Service]]:
    """(the services deployed with Compose, those whose target is a Swarm), each in the order given."""
    on_swarm = [s for s in services if ctx.target_of(s).is_swarm]
    return [s for s in services if s not in on_swarm], on_swarm


def swarm_services(repository: Repository, names: list[str] | None, all_: bool = False) -> list[Service]:
    """The folders named, or (none named) every folder whose darse.toml target is a Swarm."""
    if all_ or not names:
        chosen = [s for s in repository.services if repository.config.target_for(s.name).is_swarm]
        if not chosen:
            raise DarseError("no service of this repository targets a Swarm", 'set target = "NAME" in darse.toml')
        return chosen
    return [repository.service(name) for name in names]


def split_member(repository: Repository, text: str) -> tuple[Service, str | None]:
    """`wiki` → (wiki, None); `wiki/web` → (wiki, "web") unless `wiki/web` is itself a folder."""
    names = {s.name for s in repository.services}
    if text in names or "/" not in text:
        return repository.service(text), None
    folder, _, member = text.rpartition("/")
    return repository.service(folder), member
