"""The `--json` documents of up, rollback, down, status, history, diff and `darse stack`, as `to_dict()`
builds them from the library's results (the shapes docs/deploy.md documents); and the refusals that
come before anything happens."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from darse.deploy import commands
from darse.deploy.context import DeployContext
from darse.deploy.diff import ConfigDiff
from darse.deploy.status import ServiceStatus, StatusReport, UnreachableTarget
from darse.deploy.swarm.commands import StackDeployment
from darse.deploy.swarm.converge import Convergence, ServiceOutcome
from darse.deploy.swarm.stack import StackResult, StackStatus
from darse.deploy.up import FailedContainer, Outcome
from darse.engine.docker import ContainerState
from darse.errors import DarseError
from darse.history import Deployment, ServiceHistory

from helpers.repo import git_init, write_tree


def _deployment(action: str = "up", id_: int = 7) -> Deployment:
    return Deployment(
        project="wiki",
        service="wiki",
        repository="/srv/services",
        action=action,
        revision="a" * 40,
        dirty=False,
        config_hash="sha256:" + "b" * 64,
        config_masked='{"services": {}}',
        images={"web": {"image": "wiki:2.5"}},
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T00:00:05Z",
        outcome="success",
        user="admin",
        id=id_,
    )


def _stack(ok: bool = True) -> StackResult:
    state = "converged" if ok else "rolled back"
    convergence = Convergence([ServiceOutcome("web", ok, state, "1/1 running", [] if ok else ["exit 3"])])
    return StackResult("pad", "pad", "cluster", ok, convergence, [] if ok else ["web"], 1, "sha256:c", {"web": "p:1"})


def test_a_record_is_everything_but_the_masked_config() -> None:
    data = _deployment().to_dict()
    assert "config_masked" not in data
    assert list(data) == [
        "project", "service", "repository", "action", "revision", "dirty", "config_hash", "images",
        "started_at", "ended_at", "outcome", "message", "user", "id",
    ]  # fmt: skip


def test_an_outcome_nests_its_automatic_rollback() -> None:
    back = Outcome(_deployment("auto-rollback", 8), ok=True, seconds=1.23456)
    outcome = Outcome(
        _deployment(),
        ok=False,
        failures=[FailedContainer("wiki-web-1", "exited", "", "boom")],
        rollback=back,
        seconds=2.0,
    )
    data = outcome.to_dict()
    assert list(data) == [
        "service", "project", "ok", "unchanged", "seconds", "deployment", "pinned", "failures", "rollback",
        "rollback_note",
    ]  # fmt: skip
    assert data["failures"] == [{"container": "wiki-web-1", "state": "exited", "health": "", "logs": "boom"}]
    assert data["rollback"]["seconds"] == 1.235 and data["rollback"]["rollback"] is None
    assert data["deployment"]["id"] == 7 and data["rollback"]["deployment"]["action"] == "auto-rollback"


def test_up_lists_compose_outcomes_then_swarm_stacks() -> None:
    report = commands.DeployReport([Outcome(_deployment(), ok=True)], [_stack()])
    assert report.ok
    compose, swarm = report.to_dict()
    assert compose["service"] == "wiki" and "target" not in compose
    assert list(swarm) == ["service", "project", "ok", "target", "stack"]
    assert swarm["target"] == "swarm" and swarm["project"] == "pad"
    assert swarm["stack"] == _stack().to_dict()
    assert not commands.DeployReport(stacks=[_stack(ok=False)]).ok
    json.dumps(report.to_dict())  # JSON-ready


def test_a_stack_result() -> None:
    data = _stack(ok=False).to_dict()
    assert data == {
        "service": "pad",
        "stack": "pad",
        "target": "cluster",
        "ok": False,
        "config_hash": "sha256:c",
        "images": {"web": "p:1"},
        "rolled_back": ["web"],
        "secrets_removed": 1,
        "replica_changes": [],
        "services": [
            {"name": "web", "ok": False, "state": "rolled back", "detail": "1/1 running", "errors": ["exit 3"]}
        ],
    }
    assert StackDeployment([_stack()]).to_dict() == {"schema": 1, "deployments": [_stack().to_dict()]}
    assert StackStatus([{"service": "pad", "deployed": False}]).to_dict() == {
        "schema": 1,
        "services": [{"service": "pad", "deployed": False}],
        "nodes": [],
    }


def test_down_on_either_target() -> None:
    compose = commands.DownResult("wiki", "wiki", True, True, "output")
    assert compose.to_dict() == {"service": "wiki", "project": "wiki", "ok": True, "volumes_removed": True}
    swarm = commands.DownResult("apps/pad", "apps-pad", False, True, "", on_swarm=True)
    assert swarm.to_dict() == {"service": "apps/pad", "project": "apps-pad", "ok": True, "volumes_removed": False}


def test_status_has_the_head_and_one_row_per_service() -> None:
    row = ServiceStatus("wiki", "wiki", "", "c" * 40, "not-deployed", target="local")
    assert StatusReport([row]).to_dict() == {
        "head": "c" * 40,
        "services": [
            {
                "service": "wiki",
                "project": "wiki",
                "target": "local",
                "deployed_revision": None,
                "head": "c" * 40,
                "state": "not-deployed",
                "drift": {"files": [], "config": False},
                "containers": {"running": 0, "healthy": 0, "total": 0},
                "last": None,
                "warnings": [],
                "error": None,
            }
        ],
        "unreachable": [],
    }
    assert StatusReport([]).to_dict() == {"head": "", "services": [], "unreachable": []}


def test_an_unreachable_row_has_no_containers_and_its_target_is_listed() -> None:
    row = ServiceStatus("pad", "pad", "", "c" * 40, "unreachable", target="ghost", error="cannot reach (start it)")
    report = StatusReport([row], [UnreachableTarget("ghost", "cannot reach", "start it", ["pad"])])
    data = report.to_dict()
    assert (data["services"][0]["containers"], data["services"][0]["error"]) == (None, "cannot reach (start it)")
    ghost = {"target": "ghost", "error": "cannot reach", "hint": "start it", "services": ["pad"]}
    assert data["unreachable"] == [ghost]
    assert not report.complete and StatusReport([]).complete


def test_history_and_diff() -> None:
    records = [_deployment(id_=2), _deployment(id_=1)]
    assert ServiceHistory("wiki", "wiki", records).to_dict() == [r.to_dict() for r in records]
    assert ConfigDiff("wiki", "", "d" * 40, "").to_dict() == {
        "service": "wiki",
        "deployed_revision": None,
        "head": "d" * 40,
        "changed": False,
        "diff": "",
    }


def test_down_volumes_on_a_swarm_is_refused_before_anything(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "darse.toml": '[targets.cluster]\nkind = "swarm"\n[services."pad"]\ntarget = "cluster"\n',
            "pad/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n",
        },
    )
    git_init(root)
    with pytest.raises(DarseError, match="--volumes is not supported on a Swarm target"):
        commands.down(DeployContext.open(root), "pad", volumes=True)
    assert not (tmp_path / "state" / "history.sqlite3").exists()


def test_up_refuses_names_and_all_together(tmp_path: Path) -> None:
    write_tree(tmp_path, {"wiki/compose.yaml": "services:\n  web:\n    image: busybox:1.36\n"})
    git_init(tmp_path)
    with pytest.raises(DarseError, match="not both"):
        commands.up(DeployContext.open(tmp_path), ["wiki"], all_services=True)


def test_the_summary_lines_of_a_failed_deploy_and_its_rollback() -> None:
    """What `darse up` prints and the dashboard shows: the failure, the container's last log lines, the rollback."""
    running = ContainerState("c1", "wiki-web-1", "wiki", "web", "running", "healthy", "sha256:i", "wiki:2.5")
    back = Outcome(_deployment("auto-rollback", 8), ok=True, containers=[running], seconds=1.25)
    failed = Outcome(
        replace(_deployment(), message="unhealthy"),
        ok=False,
        failures=[FailedContainer("wiki-web-1", "running", "unhealthy", "boom")],
        rollback=back,
    )
    assert failed.summary_lines() == [
        "✘ wiki: up of aaaaaaaaaaaa failed: unhealthy",
        "  wiki-web-1 (running, unhealthy), last log lines:",
        "    boom",
        "✔ wiki: rolled back to aaaaaaaaaaaa (1/1 healthy) in 1.2 s",
    ]


def test_a_report_prints_its_stacks_before_its_compose_services() -> None:
    ok = Outcome(_deployment(), ok=True, seconds=0.5)
    lines = commands.DeployReport([ok], [_stack(ok=False)]).summary_lines()
    assert lines[0] == "✖ pad → stack pad on cluster" and "   web: rolled back (1/1 running)" in lines
    assert "      task error: exit 3" in lines and lines[-1].startswith("✔ wiki: deployed aaaaaaaaaaaa")
