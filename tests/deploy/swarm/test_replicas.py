"""Replica counts a stack deploy resets (set by hand, the Compose file says otherwise), and the progress
lines of a Swarm convergence (one per change, not one per poll). No engine: service states are made here."""

from __future__ import annotations

from darse.deploy.swarm.deploy import replica_reporter
from darse.deploy.swarm.replicas import ReplicaChange, file_replicas, replica_changes
from darse.engine.swarm import ServiceState


def _state(short: str, desired: int | None, running: int = 0) -> ServiceState:
    return ServiceState(f"app_{short}", short, "img", desired, running, "", "", "", 1, {}, ())


RESOLVED = {
    "services": {
        "web": {"image": "img", "deploy": {"replicas": 1}},
        "worker": {"image": "img"},  # no deploy: 1
        "agent": {"image": "img", "deploy": {"mode": "global"}},
        "api": {"image": "img", "deploy": {"replicas": 2}},
    }
}


def test_the_file_replicas_default_to_one_and_global_has_none() -> None:
    assert file_replicas(RESOLVED) == {"web": 1, "worker": 1, "agent": None, "api": 2}


def test_only_services_running_another_count_are_reported() -> None:
    states = [_state("web", 3), _state("worker", 1), _state("agent", None), _state("api", 0)]
    changes = replica_changes(RESOLVED, states)
    assert changes == [ReplicaChange("web", 3, 1), ReplicaChange("api", 0, 2)]
    assert changes[0].line() == "web: replicas: 3 now → 1 from the Compose file"
    assert replica_changes(RESOLVED, []) == []  # not deployed yet: nothing is undone


def test_the_convergence_progress_says_a_line_only_when_a_count_changes() -> None:
    lines: list[str] = []
    report = replica_reporter(lines.append)
    for running in (0, 0, 0, 1, 1, 1, 1):
        report([_state("web", 1, running)])
    report([])
    report([])
    assert lines == ["web 0/1", "web 1/1", "starting"]
