"""Where each consumer runs: its target in darse.toml, its engine (connected once per endpoint), its
Compose project or Swarm stack. The same answers as the deploy commands give (darse.deploy.context),
read from the model here so that `darse stack deploy` can mount certificates without a cycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from darse.config import Target
from darse.engine.compose import Endpoint
from darse.engine.connect import connect
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.model.repository import Repository
from darse.model.service import Service, project_name


@dataclass
class ConsumerTargets:
    repository: Repository
    _engines: dict[Endpoint, Engine] = field(default_factory=dict, repr=False)
    _unreachable: dict[Endpoint, DarseError] = field(default_factory=dict, repr=False)

    def service(self, folder: str) -> Service:
        return self.repository.service(folder)

    def target_of(self, service: Service) -> Target:
        return self.repository.config.target_for(service.name)

    def project(self, service: Service) -> str:
        """The folder's Compose project, which is also its Swarm stack's name."""
        return project_name(service.name)

    def engine_for(self, service: Service) -> Engine:
        """Connected on first use, one per endpoint; an endpoint that did not answer is not asked again."""
        endpoint = Endpoint.of(self.target_of(service))
        if endpoint in self._unreachable:
            raise self._unreachable[endpoint]
        if endpoint not in self._engines:
            try:
                self._engines[endpoint] = connect(endpoint, timeout=30)
            except DarseError as exc:
                self._unreachable[endpoint] = exc
                raise
        return self._engines[endpoint]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()
