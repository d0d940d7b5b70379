"""Shared by deploy_bench.py and status_bench.py: a throw-away services repository on the local engine.

Standard library only. Images are busybox (from Debian's busybox-static) tagged under bench names,
since nothing can be pulled here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BASE = "darse-bench/busybox:base"

WEB_AND_DB = """\
# A fake web application and a fake database, each on its own network.
services:
  web:
    image: darse-bench/web:1.0
    restart: unless-stopped
    init: true
    command: ["sh", "-c", "mkdir -p /srv && echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 1s
      retries: 3
    labels:
      traefik.enable: "true"
      traefik.http.routers.{name}.rule: Host(`{name}.example.org`)
      traefik.http.services.{name}.loadbalancer.server.port: "8080"
    networks:
      - {proxy}
      - backend
  db:
    image: darse-bench/db:1.0
    restart: unless-stopped
    init: true
    command: ["sh", "-c", "exec httpd -f -p 5432 -h /data"]
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

ONE_CONTAINER = """\
# A small static site.
services:
  site:
    image: darse-bench/web:1.0
    restart: unless-stopped
    init: true
    command: ["sh", "-c", "mkdir -p /srv && echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    labels:
      traefik.enable: "true"
      traefik.http.routers.{name}.rule: Host(`{name}.example.org`)
      traefik.http.services.{name}.loadbalancer.server.port: "8080"
    networks:
      - {proxy}
networks:
  {proxy}:
    external: true
"""


def run(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, check=check, capture_output=True, text=True)


def ensure_images() -> None:
    if run("docker", "image", "inspect", BASE, check=False).returncode != 0:
        context = Path(tempfile.mkdtemp(prefix="darse-bench-img-"))
        (context / "bin").mkdir()
        shutil.copy2("/bin/busybox", context / "bin" / "busybox")
        (context / "Dockerfile").write_text(
            'FROM scratch\nCOPY bin/busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        run("docker", "build", "-q", "-t", BASE, str(context), "--network", "none")
        shutil.rmtree(context)
    for tag in ("darse-bench/web:1.0", "darse-bench/db:1.0"):
        run("docker", "tag", BASE, tag)


def make_repo(root: Path, names: list[str], template: str, proxy: str) -> None:
    root.mkdir(parents=True)
    (root / "darse.toml").write_text(f'proxy_network = "{proxy}"\n')
    (root / ".gitignore").write_text("*.secrets\n")
    for name in names:
        folder = root / name
        folder.mkdir()
        (folder / "compose.yaml").write_text(template.format(name=name, proxy=proxy))
        (folder / "README.md").write_text(f"# {name}\n\nA benchmark service.\n")
        if "db.secrets" in template:
            (folder / "db.secrets.example").write_text("DB_PASSWORD=changeme\n")
            (folder / "db.secrets").write_text("DB_PASSWORD=bench-secret-value\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@darse.invalid"]
    run(*git, "init", "-q", cwd=root)
    run(*git, "add", "-A", cwd=root)
    run(*git, "commit", "-q", "-m", "benchmark services", cwd=root)


def darse_executable() -> str:
    import sys

    candidate = Path(sys.executable).parent / "darse"
    return str(candidate) if candidate.exists() else (shutil.which("darse") or "darse")
