"""BK001 volume-not-backed-up: silent without `[backup]`; once configured, it fires at the mount of a
named volume no backup takes (a Swarm target, a database's live files) and not at one excluded on purpose."""

from __future__ import annotations

from pathlib import Path

from darse.lint.rules import backup

from helpers.lint import COMPOSE, lint_tree, rule_hits, rules_of

BACKUP = '[backup]\nrepository = "/srv/restic"\n'
SWARM = '[targets.cluster]\nkind = "swarm"\ncontext = "swarm"\n[services.app]\ntarget = "cluster"\n'
SERVICE = """\
services:
  app:
    image: example/app:1.0
    init: true
    deploy:
      restart_policy:
        condition: any
    volumes:
      - ./app.conf:/etc/app.conf:ro
      - data:/data
      - type: volume
        source: cache
        target: /cache
  db:
    image: postgres:16.4
    init: true
    deploy:
      restart_policy:
        condition: any
    volumes:
      - pg:/var/lib/postgresql/data
volumes:
  data:
  cache:
  pg:
"""
FILES = {COMPOSE: SERVICE, "app/README.md": "# app\n", "app/app.conf": "x\n"}


def hits(tmp_path: Path, config: str) -> list[tuple[str, int, int]]:
    return rule_hits(lint_tree(tmp_path, {**FILES, "darse.toml": config}), "BK001")


def test_the_module_is_covered() -> None:
    assert rules_of(backup) == {"BK001"}


def test_without_backup_nothing_is_reported_even_on_a_swarm(tmp_path: Path) -> None:
    assert hits(tmp_path, SWARM) == []
    assert hits(tmp_path, '[backup]\npassword_file = "/etc/pw"\n' + SWARM) == []  # no repository: not configured


def test_every_named_volume_on_a_swarm_target_is_reported_at_its_mount(tmp_path: Path) -> None:
    assert hits(tmp_path, BACKUP + SWARM) == [(COMPOSE, 10, 9), (COMPOSE, 11, 9), (COMPOSE, 21, 9)]
    [finding, *_] = [f for f in lint_tree(tmp_path).findings if f.rule == "BK001"]
    assert finding.message.startswith("volume app_data is in no backup") and 'exclude = ["data"]' in finding.message


def test_near_miss_excluded_volumes_are_the_admins_decision(tmp_path: Path) -> None:
    config = BACKUP + SWARM + '[backup.services.app]\nexclude = ["app_data", "cache", "pg"]\n'
    assert hits(tmp_path, config) == []


def test_near_miss_on_a_compose_target_everything_is_taken(tmp_path: Path) -> None:
    assert hits(tmp_path, BACKUP) == []


def test_a_database_dump_turned_off_leaves_its_live_files_reported(tmp_path: Path) -> None:
    config = BACKUP + '[backup.services.app]\ndump = { service = "db", kind = "none" }\n'
    assert hits(tmp_path, config) == [(COMPOSE, 21, 9)]
    [finding] = [f for f in lint_tree(tmp_path).findings if f.rule == "BK001"]
    assert "live files of database service db" in finding.message
    assert hits(tmp_path, config + "stop = true\n") == []  # stopped during the copy: consistent
