"""`darse backup prune` with real restic: keep rules applied per item of each folder (keep last 2 keeps two
snapshots of every dump and every volume), the snapshots of the pre-deploy backup of the current
deployment and young safety snapshots kept back, `--dry-run` changing nothing, folders chosen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from darse.backup.prune import prune_backups
from darse.history import PRE_DEPLOY, SAFETY, SUCCESS, BackupRecord, Deployment, History
from darse.restic import Restic

from helpers.cli import run_darse
from helpers.repo import git_init, write_tree

SERVICE = "services:\n  db:\n    image: busybox:1.36\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root, store = tmp_path / "repo", tmp_path / "backups"
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    config = f'[backup]\nrepository = "{store}/restic"\npassword_file = "{store}/pw"\nkeep = {{ last = 2 }}\n'
    write_tree(root, {"darse.toml": config, "alpha/compose.yaml": SERVICE, "beta/compose.yaml": SERVICE})
    git_init(root)
    assert run_darse("backup", "init", cwd=root).exit_code == 0
    (tmp_path / "state").mkdir(mode=0o700)
    return root, Restic(f"{store}/restic", store / "pw"), History(tmp_path / "state")


def _take(restic: Restic, folder: str, kind: str, item: str, reason: str = "by-hand") -> tuple[str, dict[str, str]]:
    """One snapshot as darse tags them; returns the id restic's summary gives (short) and its tags."""
    tags = {"darse.service": folder, "darse.kind": kind, "darse.item": item, "darse.reason": reason}
    saved = restic.backup_stream(lambda sink: sink.write(f"{folder} {item}\n".encode()), f"{folder}.{item}", tags)
    return saved.snapshot_id, tags


def _full_ids(restic: Restic, *groups: list[tuple[str, dict[str, str]]]) -> list[list[str]]:
    """The full id of every snapshot taken, each found once with its tags, in one listing (each restic
    command derives the repository's key again: one listing per snapshot would cost as much as the backups)."""
    listed = restic.snapshots()
    out = []
    for group in groups:
        ids = []
        for short, tags in group:
            (found,) = [s for s in listed if s.id.startswith(short)]
            assert {key: found.tags.get(key) for key in tags} == tags
            ids.append(found.id)
        out.append(ids)
    return out


def _ids(restic: Restic) -> set[str]:
    return {s.id for s in restic.snapshots()}


def test_keep_rules_apply_per_item_and_spare_what_a_rollback_or_a_restore_needs(repo) -> None:
    root, restic, history = repo
    alpha_dump, alpha_volume, beta_dump, (untouched,) = _full_ids(
        restic,
        [_take(restic, "alpha", "dump", "db", PRE_DEPLOY if n == 0 else "by-hand") for n in range(4)],
        [_take(restic, "alpha", "volume", "alpha_files") for _ in range(3)],
        [_take(restic, "beta", "dump", "db", SAFETY if n == 0 else "by-hand") for n in range(3)],
        [_take(restic, "beta", "volume", "beta_files")],  # one snapshot: nothing to forget
    )

    deployment = history.start(Deployment("alpha", "alpha", str(root), "up", "c0ffee", False, "hash"))
    history.finish(deployment, SUCCESS)
    record = history.start_backup(
        BackupRecord(
            "alpha",
            "alpha",
            "backup",
            PRE_DEPLOY,
            deployment.id,
            snapshots=[{"kind": "dump", "item": "db", "snapshot": alpha_dump[0]}],
        )
    )
    history.finish_backup(record, SUCCESS)
    before = _ids(restic)

    dry = run_darse("backup", "prune", "--dry-run", "--json", cwd=root)
    assert dry.exit_code == 0, dry.stdout + (dry.stderr or "")
    assert _ids(restic) == before  # a dry run changes nothing
    report = json.loads(dry.stdout)
    items = {(i["folder"], i["kind"], i["item"]): i for i in report["items"]}
    assert report["dry_run"] and report["forgotten"] == 2 and not report["pruned"]
    assert items[("alpha", "dump", "db")]["forgotten"] == [alpha_dump[1][:8]]
    assert list(items[("alpha", "dump", "db")]["protected"]) == [alpha_dump[0][:8]]
    assert items[("alpha", "volume", "alpha_files")]["forgotten"] == [alpha_volume[0][:8]]
    assert items[("beta", "dump", "db")]["forgotten"] == [] and list(items[("beta", "dump", "db")]["protected"]) == [
        beta_dump[0][:8]
    ]
    assert items[("beta", "volume", "beta_files")]["kept"] == [untouched[:8]]

    done = run_darse("backup", "prune", cwd=root)
    assert done.exit_code == 0, done.stdout + (done.stderr or "")
    assert "forgot 2 snapshot(s)" in done.stdout
    assert _ids(restic) == before - {alpha_dump[1], alpha_volume[0]}

    # eight days on, the safety snapshot may go; only beta is pruned
    later = prune_backups(root, ["beta"], now=datetime.now(UTC) + timedelta(days=8))
    assert {i.folder for i in later.items} == {"beta"} and later.pruned
    assert _ids(restic) == before - {alpha_dump[1], alpha_volume[0], beta_dump[0]}
    history.close()


def test_prune_needs_keep_rules_and_a_known_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    config = f'[backup]\nrepository = "{tmp_path}/restic"\npassword_file = "{tmp_path}/pw"\n'
    write_tree(tmp_path / "repo", {"darse.toml": config, "alpha/compose.yaml": SERVICE})
    git_init(tmp_path / "repo")
    result = run_darse("backup", "prune", cwd=tmp_path / "repo")
    assert result.exit_code == 2 and "no keep rules" in (result.stderr or "")
    (tmp_path / "repo" / "darse.toml").write_text(config + "keep = { last = 1 }\n")
    result = run_darse("backup", "prune", "gamma", cwd=tmp_path / "repo")
    assert result.exit_code == 2 and "no service folder 'gamma'" in (result.stderr or "")
