"""What every deploy command needs, opened once: the repository, Git, the state folder, history, engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from darse.deploy.history import History
from darse.deploy.revisions import Revisions
from darse.deploy.state import state_dir
from darse.engine.compose import EngineTarget, project_name
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.model.repository import Repository, find_root, open_repository
from darse.model.service import Service


@dataclass
class DeployContext:
    repository: Repository
    target: EngineTarget = field(default_factory=EngineTarget)

    @classmethod
    def open(cls, start: Path, target: EngineTarget | None = None) -> DeployContext:
        repository = open_repository(find_root(start))
        if not repository.services:
            raise DarseError(
                f"no service found in {repository.root}", "a service is a folder holding compose.yaml; run darse there"
            )
        return cls(repository, target or EngineTarget())

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
        return History(self.state)

    @cached_property
    def engine(self) -> Engine:
        """Connected on first use; raises the one-line 'cannot reach the Docker engine' error."""
        return Engine(self.target)

    def service(self, name: str) -> Service:
        return self.repository.service(name.rstrip("/"))

    def project(self, service: Service) -> str:
        return project_name(service.name)
