"""A services repository in tmp_path with one two-service stack, deployed on the real engine.

The stack: `web`, a fake web application (busybox httpd on 8080 with a wget healthcheck, on the proxy
network and a backend network), and `db`, a fake database (busybox httpd on the backend network only)
with a named volume and an env_file secret. Images are busybox tagged under test names.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from helpers.engine import ensure_busybox

WEB_IMAGE = "darse-test/deploy-web:1.0"
DB_IMAGE = "darse-test/deploy-db:1.0"
SECRET = "Zq8-very-secret-db-password"

COMPOSE = """\
# A fake web application and a fake database, each on its own network.
services:
  web:
    image: {web_image}
    restart: unless-stopped
    init: true
    command: ["sh", "-c", "mkdir -p /srv && echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    environment:
      GREETING: "{greeting}"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:{health_port}/"]
      interval: 1s
      timeout: 1s
      retries: 2
      start_period: 1s
    labels:
      traefik.enable: "true"
      traefik.http.routers.{name}.rule: Host(`{name}.example.org`)
      traefik.http.services.{name}.loadbalancer.server.port: "8080"
    networks:
      - {proxy}
      - backend
  db:
    image: {db_image}
    restart: unless-stopped
    init: true
    command: {db_command}
    env_file:
      - ./db.secrets
    volumes:
      - data:/data
    networks:
      - backend
volumes:
  data:
networks:
  {proxy}:
    external: true
  backend:
"""
DB_COMMAND = '["sh", "-c", "exec httpd -f -p 5432 -h /data"]'


@dataclass
class Stack:
    """The repository, its one service, and how to run darse in it."""

    root: Path
    name: str  # service folder = Compose project name
    proxy: str
    state: Path
    engine: docker.DockerClient

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def write(self, greeting: str = "hello", health_port: int = 8080, db_command: str = DB_COMMAND, **kw) -> None:
        text = COMPOSE.format(
            name=self.name,
            proxy=self.proxy,
            greeting=greeting,
            health_port=health_port,
            db_command=db_command,
            web_image=kw.get("web_image", WEB_IMAGE),
            db_image=DB_IMAGE,
        )
        (self.folder / "compose.yaml").write_text(text)

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def darse(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "DARSE_STATE_DIR": str(self.state), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "darse", *args],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def containers(self) -> dict[str, docker.models.containers.Container]:
        found = self.engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={self.name}"})
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def history(self) -> list[dict]:
        result = self.darse("history", self.name, "--json", "--limit", "100")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def history_bytes(self) -> bytes:
        """Every byte the state folder holds (database, WAL), to look for secrets in."""
        out = b""
        for path in self.state.rglob("*"):
            if path.is_file() and "releases" not in path.parts:
                out += path.read_bytes()
        return out

    def stored_configs(self) -> list[str]:
        """The masked configurations the history keeps, newest first."""
        with sqlite3.connect(self.state / "history.sqlite3") as conn:
            return [row[0] for row in conn.execute("SELECT config_masked FROM deployments ORDER BY id DESC")]

    def history_rows(self) -> int:
        db = self.state / "history.sqlite3"
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM deployments").fetchone()[0]


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=darse", "-c", "user.email=dev@darse.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(name="stack")
def stack_fixture(tmp_path: Path, engine: docker.DockerClient) -> Iterator[Stack]:
    ensure_busybox(engine, WEB_IMAGE, DB_IMAGE, "darse-test/deploy-web:latest")
    suffix = uuid.uuid4().hex[:8]
    root = tmp_path / "services"
    root.mkdir()
    s = Stack(root, f"app{suffix}", f"darsetest_px{suffix}", tmp_path / "state", engine)
    s.folder.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "darse.toml").write_text(f'proxy_network = "{s.proxy}"\n')
    (root / ".gitignore").write_text("*.secrets\n")
    (s.folder / "README.md").write_text(f"# {s.name}\n\nA fake web application and its fake database.\n")
    (s.folder / "db.secrets.example").write_text("DB_PASSWORD=changeme\n")
    (s.folder / "db.secrets").write_text(f"DB_PASSWORD={SECRET}\n")
    s.write()
    s.commit("first version")
    yield s
    subprocess.run(
        ["docker", "compose", "--project-name", s.name, "down", "--volumes", "--remove-orphans"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    with contextlib.suppress(docker.errors.NotFound):
        engine.networks.get(s.proxy).remove()
