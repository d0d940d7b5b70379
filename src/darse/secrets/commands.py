"""`secrets init | check | diff` as library calls: a selection in, a report with `to_dict()` out.

The CLI and the dashboard call these and render; the confirmation before regenerating files is theirs
(an interaction), which is why `init` is a plan and an apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError
from darse.model.repository import Repository
from darse.model.service import Service
from darse.secrets.check import SecretDiff, SecretProblem, check_service, diff_service
from darse.secrets.init import InitPlan, apply_init, plan_init

SCHEMA = 1


def select(names: list[str] | None, start: Path) -> tuple[Repository, list[Service]]:
    """The repository around `start` and the services `names` picks (every service when none)."""
    from darse.lint.selection import resolve_selection

    chosen = resolve_selection(names or [], start)
    return chosen.repository, chosen.services


@dataclass
class InitReport:
    """What `init` plans (and, once applied, wrote) for the chosen services."""

    repository: Repository
    plan: InitPlan

    def apply(self) -> None:
        apply_init(self.repository, self.plan)

    def to_dict(self, show: bool = False) -> dict[str, object]:
        """`show` adds the generated values: only ever on the user's explicit request."""
        files = []
        for item in self.plan.files:
            entry: dict[str, object] = {
                "service": item.service,
                "path": item.path,
                "example": item.example,
                "action": item.action,
                "generated": item.generated,
                "defaults": item.defaults,
            }
            if show and item.values:
                entry["values"] = item.values
            files.append(entry)
        fix = self.plan.gitignore
        gitignore = {"path": ".gitignore", "changed": fix is not None, "fixed_for": fix.unignored if fix else []}
        return {"schema": SCHEMA, "files": files, "gitignore": gitignore}


def plan(names: list[str] | None, start: Path, *, all_services: bool = False, force: bool = False) -> InitReport:
    """What `darse secrets init` would write; nothing is written until `InitReport.apply()`."""
    if not names and not all_services:
        raise DarseError("name the services whose secret files to create, or give --all", "darse secrets init wiki")
    if names and all_services:
        raise DarseError("give service names or --all, not both", "darse secrets init --all")
    repository, chosen = select(names, start)
    return InitReport(repository, plan_init(repository, chosen, force))


@dataclass
class CheckReport:
    services: list[str]
    scanned_log: bool  # the Git log was scanned for leaks (`--history`, the flag's name)
    problems: list[SecretProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "services": self.services,
            "history": self.scanned_log,
            "problems": [p.to_dict() for p in self.problems],
            "summary": {"problems": len(self.problems), "services": len(self.services)},
        }


def check(names: list[str] | None, start: Path, *, scan_log: bool = False) -> CheckReport:
    """Every env_file present with its example's keys, no real secret in Git (its log too with `scan_log`)."""
    from darse.secrets.leaks import scan_leaks

    repository, chosen = select(names, start)
    problems: list[SecretProblem] = []
    for service in chosen:
        problems += check_service(repository, service)
    if scan_log:
        problems += scan_leaks(repository, None if not names else chosen)
    return CheckReport([s.name for s in chosen], scan_log, problems)


@dataclass
class DiffReport:
    service: str
    files: list[SecretDiff]

    @property
    def differs(self) -> bool:
        return any(d.differs for d in self.files)

    def to_dict(self) -> dict[str, object]:
        return {"schema": SCHEMA, "service": self.service, "files": [d.to_dict() for d in self.files]}


def diff(name: str, start: Path) -> DiffReport:
    """Keys missing from or extra in one service's real secret files, compared with their examples."""
    repository, chosen = select([name], start)
    if len(chosen) != 1:
        raise DarseError(f"{name!r} names {len(chosen)} services", "give one service")
    return DiffReport(chosen[0].name, diff_service(repository, chosen[0]))
