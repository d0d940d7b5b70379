"""When `darse up` asks for a backup first: darse.toml's policy, the action, and whether an image changes
(an engine that only answers `image_id`: the decision is pure logic; tests/integration/backup has the real one)."""

from __future__ import annotations

import pytest

from darse.config import BackupSettings
from darse.deploy.predeploy import images_change, wants_backup
from darse.engine.docker import ContainerState


class _Images:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known

    def image_id(self, reference: str) -> str | None:
        return self.known.get(reference)


def _container(service: str, image_id: str) -> ContainerState:
    return ContainerState("c-" + service, f"p-{service}-1", "p", service, "running", "", image_id, "x")


RUNNING = [_container("db", "sha256:old"), _container("app", "sha256:app")]
SAME = {"db": "postgres:15", "app": "app:1"}
ENGINE = _Images({"postgres:15": "sha256:old", "postgres:16": "sha256:new", "app:1": "sha256:app"})


def test_an_image_change_is_a_new_id_for_a_running_service_or_an_image_the_engine_lacks():
    assert not images_change(ENGINE, RUNNING, SAME, {})
    assert images_change(ENGINE, RUNNING, {**SAME, "db": "postgres:16"}, {})
    assert images_change(ENGINE, RUNNING, {**SAME, "db": "postgres:17"}, {})  # not pulled yet: unknown
    assert images_change(ENGINE, RUNNING, {**SAME, "db": ""}, {})  # built without an image name
    # a rollback pins the recorded image IDs: those are compared, not the tags
    assert images_change(ENGINE, RUNNING, SAME, {"db": {"id": "sha256:older"}})
    assert not images_change(ENGINE, RUNNING, {**SAME, "db": "postgres:16"}, {"db": {"id": "sha256:old"}})


@pytest.mark.parametrize(
    ("policy", "action", "declared", "expected"),
    [
        ("on-image-change", "up", {**SAME, "db": "postgres:16"}, True),
        ("on-image-change", "up", SAME, False),
        ("always", "up", SAME, True),
        ("always", "rollback", SAME, True),
        ("always", "auto-rollback", SAME, False),  # the data then is the failed deployment's
        ("never", "up", {**SAME, "db": "postgres:16"}, False),
    ],
)
def test_the_policy_decides(policy: str, action: str, declared: dict[str, str], expected: bool):
    settings = BackupSettings(repository="/srv/restic", before_deploy=policy)
    assert wants_backup(settings, action, ENGINE, RUNNING, declared, {}) is expected


def test_nothing_is_backed_up_without_a_repository_or_before_a_first_deploy():
    changed = {**SAME, "db": "postgres:16"}
    assert not wants_backup(BackupSettings(before_deploy="always"), "up", ENGINE, RUNNING, changed, {})
    always = BackupSettings(repository="/srv/restic", before_deploy="always")
    assert not wants_backup(always, "up", ENGINE, [], changed, {})
