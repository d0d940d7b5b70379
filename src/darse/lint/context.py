"""What a rule may look at besides the file it checks: the repository, the service, the date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from darse.config import RepoConfig
from darse.model.repository import Repository
from darse.model.service import Service


@dataclass
class LintContext:
    config: RepoConfig
    repository: Repository | None = None
    service: Service | None = None
    today: dt.date = field(default_factory=dt.date.today)
