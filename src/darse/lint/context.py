"""What a rule may look at besides the file it checks: the repository, the service, the date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from darse.config import RepoConfig, Target
from darse.model.repository import Repository
from darse.model.service import Service


@dataclass
class LintContext:
    config: RepoConfig
    repository: Repository | None = None
    service: Service | None = None
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def target(self) -> Target:
        """Where the service runs (darse.toml `target`): some rules differ for a Swarm."""
        return (
            self.config.target_for(self.service.name)
            if self.service
            else self.config.targets[self.config.default_target]
        )
