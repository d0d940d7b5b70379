"""The stack document darse hands to `docker stack deploy`, and how it judges a rollout: pure logic."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.deploy.swarm.converge import Before, _judge
from darse.deploy.swarm.stack import _came_from_registry
from darse.deploy.swarm.stackfile import make_stack_document
from darse.engine.swarm import ServiceState, TaskState
from darse.errors import DarseError
from darse.model.image import parse_image


def resolved(secret_file: Path) -> dict:
    """The shape `docker compose config --format json` gives."""
    return {
        "name": "wiki",
        "services": {
            "web": {
                "image": "registry.example.org/wiki:2.5",
                "entrypoint": None,
                "restart": "unless-stopped",
                "depends_on": {"db": {"condition": "service_started", "required": True}},
                "volumes": [
                    {"type": "bind", "source": "/srv/conf", "target": "/conf", "bind": {"create_host_path": True}}
                ],
                "deploy": {"labels": {"keep": "me"}, "update_config": {"monitor": "30s"}},
            },
            "db": {"image": "postgres:16-alpine"},
        },
        "secrets": {"token": {"name": "wiki_token", "file": str(secret_file)}, "shared": {"external": True}},
    }


def test_document_is_adapted_for_stacks(tmp_path: Path) -> None:
    secret = tmp_path / "token.secrets"
    secret.write_text("s3cret")
    made = make_stack_document(resolved(secret), "wiki", {"org.darse.commit": "abc"})
    doc = made.document
    web = doc["services"]["web"]
    assert "name" not in doc
    assert not {"entrypoint", "restart", "depends_on"} & set(web)
    assert "bind" not in web["volumes"][0]
    assert web["deploy"]["labels"] == {"keep": "me", "org.darse.commit": "abc"}
    assert web["deploy"]["update_config"] == {"failure_action": "rollback", "monitor": "30s", "order": "stop-first"}
    assert made.images == {"web": "registry.example.org/wiki:2.5", "db": "postgres:16-alpine"}
    assert doc["secrets"]["shared"] == {"external": True}
    name = made.secret_names["token"]
    assert name.startswith("wiki_token_") and doc["secrets"]["token"]["name"] == name


def test_secret_name_follows_its_content(tmp_path: Path) -> None:
    secret = tmp_path / "token.secrets"
    secret.write_text("one")
    first = make_stack_document(resolved(secret), "wiki", {}).secret_names["token"]
    assert make_stack_document(resolved(secret), "wiki", {}).secret_names["token"] == first
    secret.write_text("two")
    assert make_stack_document(resolved(secret), "wiki", {}).secret_names["token"] != first


def test_secret_problems_are_one_line_without_content(tmp_path: Path) -> None:
    with pytest.raises(DarseError, match="missing") as missing:
        make_stack_document(resolved(tmp_path / "absent.secrets"), "wiki", {})
    assert "darse secrets init" in missing.value.hint
    big = tmp_path / "big.secrets"
    big.write_bytes(b"x" * (600 * 1024))
    with pytest.raises(DarseError, match="500 KiB"):
        make_stack_document(resolved(big), "wiki", {})


def test_service_without_image_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DarseError, match="registry"):
        make_stack_document({"services": {"app": {"build": "."}}}, "s", {})


@pytest.mark.parametrize(
    ("reference", "digests", "expected"),
    [
        ("127.0.0.1:5000/app:1.0", ["127.0.0.1:5000/app@sha256:aa"], True),
        ("127.0.0.1:5000/app:1.0", ["127.0.0.1:5000/other@sha256:aa"], False),
        ("postgres:16", ["postgres@sha256:bb"], True),
        ("docker.io/library/postgres:16", ["postgres@sha256:bb"], True),
        ("me/app:2.0", [], False),
    ],
)
def test_image_came_from_its_registry(reference: str, digests: list[str], expected: bool) -> None:
    assert _came_from_registry(parse_image(reference), digests) is expected


def state(update: str = "completed", started: str = "t1", template: str = "a", running: int = 1, errors=()):
    tasks = tuple(TaskState(1, "failed", "shutdown", e, "img", "c") for e in errors)
    return ServiceState("s_web", "web", "img", 1, running, update, "", started, 1, {}, tasks, template)


def test_rollout_judgement() -> None:
    before = Before("a", "t1")
    assert _judge(state(), before).ok  # nothing changed, replicas running
    assert _judge(state(template="b"), before) is None  # changed, rollout not started yet
    assert _judge(state(update="", started="", template="b"), before) is None  # status cleared, not started
    assert _judge(state(update="updating", started="t2", template="b"), before) is None
    failed = _judge(state(update="rollback_completed", started="t2", template="b", errors=("exit (3)",)), before)
    assert (failed.ok, failed.state, failed.errors) == (False, "rolled back", ["exit (3)"])
    stale = _judge(state(update="rollback_completed", started="t1"), before)
    assert stale.ok  # an earlier deploy's rollback says nothing about this one
    assert _judge(state(running=0), before) is None
