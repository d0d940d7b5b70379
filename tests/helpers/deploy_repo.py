"""A real services repository (Git, history in a temporary state folder) whose engine is the in-memory
fake: the deploy logic's unit tests run without Docker. A test module makes its fixture of it:

    @pytest.fixture
    def repo(tmp_path, monkeypatch) -> Repo:
        return make_repo(tmp_path, monkeypatch)
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from darse.deploy.context import DeployContext
from darse.history import SUCCESS, Deployment

from helpers.fake_engine import FakeEngineAPI

COMPOSE = """\
services:
  web:
    image: example/wiki:2.5
    restart: unless-stopped
    init: true
  db:
    image: example/postgres:16
    restart: unless-stopped
    init: true
"""
GIT = ["git", "-c", "user.name=darse tests", "-c", "user.email=tests@darse.invalid", "-c", "init.defaultBranch=main"]


class Repo:
    """The repository with `wiki` (web + db) and `pad` (web), and helpers to commit and record."""

    def __init__(self, root: Path, fake: FakeEngineAPI) -> None:
        self.root = root
        self.fake = fake

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        subprocess.run(["git", "-C", str(self.root), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(self.root), "commit", "-qm", message], check=True)
        return self.head()

    def head(self) -> str:
        return subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()

    def context(self) -> DeployContext:
        return DeployContext.open(self.root, connect_engine=self.fake.connect)

    def record(
        self,
        ctx: DeployContext,
        project: str,
        revision: str,
        *,
        config_hash: str = "h1",
        outcome: str = SUCCESS,
        action: str = "up",
        images: dict | None = None,
    ) -> Deployment:
        deployment = ctx.history.start(
            Deployment(project, project, str(self.root), action, revision, False, config_hash, images=images or {})
        )
        ctx.history.finish(deployment, outcome)
        return deployment


def make_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """The repository in `tmp_path/fleet`, its history in `tmp_path/state`, a fresh fake engine."""
    root = tmp_path / "fleet"
    root.mkdir()
    monkeypatch.setenv("DARSE_STATE_DIR", str(tmp_path / "state"))
    subprocess.run([*GIT, "init", "-q", str(root)], check=True)
    repo = Repo(root, FakeEngineAPI())
    repo.commit({"wiki/compose.yaml": COMPOSE, "pad/compose.yaml": COMPOSE.split("  db:")[0]}, "initial")
    return repo
