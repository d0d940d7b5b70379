"""What every deploy command needs, opened once: the repository, Git, the state folder, history, engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.config import Target, find_root
from darse.deploy.revisions import Revisions
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.history import History
from darse.model.repository import Repository, open_repository
from darse.model.service import Service, project_name
from darse.state import state_dir

EngineFactory = Callable[[Endpoint], Engine]


@dataclass
class DeployContext:
    """`override`, when given, sends every service to one engine; otherwise each service goes to the
    target darse.toml gives it (Compose on the local engine, a Docker context, a DOCKER_HOST, a Swarm).

    `connect_engine` makes the Engine of an endpoint: `darse.engine.connect.connect`, or a fake in
    the unit tests of the deploy logic.

    `requested_by` names who asked when that is not the OS user running darse (the dashboard's
    signed-in user); every deployment recorded through this context names it."""

    repository: Repository
    override: Endpoint | None = None
    connect_engine: EngineFactory = connect
    requested_by: str | None = None
    _engines: dict[Endpoint, Engine] = field(default_factory=dict, repr=False)
    _unreachable: dict[Endpoint, DarseError] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls,
        start: Path,
        override: Endpoint | None = None,
        connect_engine: EngineFactory = connect,
        requested_by: str | None = None,
    ) -> DeployContext:
        repository = open_repository(find_root(start))
        if not repository.services:
            raise DarseError(
                f"no service found in {repository.root}", "a service is a folder holding compose.yaml; run darse there"
            )
        return cls(repository, override, connect_engine, requested_by=requested_by)

    def target_of(self, service: Service) -> Target:
        return self.repository.config.target_for(service.name)

    def endpoint_of(self, service: Service) -> Endpoint:
        """The engine endpoint a service's `docker compose` and Engine API calls go to."""
        if self.override is not None:
            return self.override
        return Endpoint.of(self.target_of(service))

    def engine_for(self, service: Service) -> Engine:
        """Connected on first use, one client per engine; raises the one-line 'cannot reach' error."""
        return self.engine_at(self.endpoint_of(service))

    def engine_at(self, endpoint: Endpoint) -> Engine:
        """An endpoint that did not answer is not asked again by this context (a page reads the status,
        then a diff: one connection timeout, not two); its error is raised again."""
        if endpoint in self._unreachable:
            raise self._unreachable[endpoint]
        if endpoint not in self._engines:
            try:
                self._engines[endpoint] = self.connect_engine(endpoint)
            except DarseError as exc:
                self._unreachable[endpoint] = exc
                raise
        return self._engines[endpoint]

    @property
    def root(self) -> Path:
        return self.repository.root

    @cached_property
    def revisions(self) -> Revisions:
        return Revisions(self.root)

    @cached_property
    def state(self) -> Path:
        return state_dir(self.repository.config, self.root)

    @cached_property
    def history(self) -> History:
        return History(self.state, requested_by=self.requested_by)

    def service(self, name: str) -> Service:
        return self.repository.service(name.rstrip("/"))

    @cached_property
    def folders_by_project(self) -> dict[str, list[str]]:
        """Compose project name -> the service folders that map to it (more than one is a collision)."""
        found: dict[str, list[str]] = {}
        for service in self.repository.services:
            found.setdefault(project_name(service.name), []).append(service.name)
        return found

    def project(self, service: Service) -> str:
        """The service's Compose project, refused when another folder maps to the same name (`web/blog`
        and `web-blog`): `compose up --remove-orphans` of one would remove the other's containers, and
        Compose cannot limit it by label, so this refusal is the guard."""
        name = project_name(service.name)
        others = [folder for folder in self.folders_by_project.get(name, []) if folder != service.name]
        if others:
            raise DarseError(
                f"{service.name} and {others[0]} both map to the Compose project {name}",
                "rename one of the folders: deploying either would remove the other's containers",
            )
        return name


def open_deployments(start: Path, requested_by: str | None = None) -> DeployContext:
    """The repository around `start`, ready to deploy: its services, Git, the history, engines on first use;
    `requested_by` is the user the history records (default: the OS user running darse)."""
    return DeployContext.open(start, requested_by=requested_by)
