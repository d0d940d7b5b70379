"""SW005 swarm-split-volume: replicas (or a global service) of a Swarm-target service mounting a named
volume of the local driver; near misses: one replica, pinned to one node, a shared driver, an external
volume, a bind mount, a Compose target."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.lint import COMPOSE, lint_tree, rule_hits

SWARM = '[targets.cluster]\nkind = "swarm"\ncontext = "swarm"\n[services.app]\ntarget = "cluster"\n'


def service(deploy: str, volumes: str = "      - data:/data\n", declared: str = "volumes:\n  data:\n") -> str:
    return (
        "services:\n  app:\n    image: example/app:1.0\n    init: true\n    volumes:\n"
        + volumes
        + "    deploy:\n      restart_policy:\n        condition: any\n"
        + deploy
        + declared
    )


def hits(tmp_path: Path, compose: str, config: str = SWARM) -> list[tuple[str, int, int]]:
    files = {COMPOSE: compose, "app/README.md": "# app\n", "darse.toml": config}
    return rule_hits(lint_tree(tmp_path, files), "SW005")


@pytest.mark.parametrize(
    "compose",
    [
        service("      replicas: 2\n"),
        service("      mode: global\n"),
        service("      replicas: 3\n", "      - type: volume\n        source: data\n        target: /data\n"),
        service("      replicas: 2\n", declared="volumes:\n  data:\n    driver: local\n"),
    ],
)
def test_replicas_on_a_local_volume_are_reported_at_the_volumes(tmp_path: Path, compose: str) -> None:
    assert hits(tmp_path, compose) == [(COMPOSE, 5, 5)]


@pytest.mark.parametrize(
    "compose",
    [
        service("      replicas: 1\n"),
        service(""),  # one replica by default
        service("      replicas: 2\n      placement:\n        constraints: [node.hostname == db-01]\n"),
        service("      replicas: 2\n", declared="volumes:\n  data:\n    driver: nfs-volumes\n"),
        service("      replicas: 2\n", declared="volumes:\n  data:\n    external: true\n"),
        service("      replicas: 2\n", "      - ./conf:/etc/app\n", declared=""),
    ],
)
def test_near_misses_are_silent(tmp_path: Path, compose: str) -> None:
    assert hits(tmp_path, compose) == []


def test_a_compose_target_is_silent(tmp_path: Path) -> None:
    assert hits(tmp_path, service("      replicas: 2\n"), config="") == []
