"""A services repository whose one consumer runs on the real engine, for `darse certs` tests.

The consumer is busybox: it appends a line to /state/reloads on every SIGHUP and to /state/starts on
every start, so a test counts reloads and restarts instead of timing them. Its certificate folder is
a named volume mounted read-only (darse writes into it from outside, as for a real daemon).
"""

from __future__ import annotations

import contextlib
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from darse.model.service import project_name

from helpers.certs import Issued, acme_v2, write_acme
from helpers.repo import git_init, write_tree

BUSYBOX_COMMAND = """\
    command:
      - sh
      - -c
      - "echo start >> /state/starts; trap 'echo hup >> /state/reloads' HUP; while true; do sleep 0.1; done"
"""
# Debian's openssl serving LDAPS's port with the files darse writes (waiting for them at first start)
OPENSSL_IMAGE = "darse-test/openssl:bookworm"
OPENSSL_COMMAND = """\
    command:
      - sh
      - -c
      - >-
        echo start >> /state/starts; while [ ! -f /etc/ldap/tls/key.pem ]; do sleep 0.2; done;
        exec openssl s_server -quiet -accept 636 -cert /etc/ldap/tls/cert.pem -key /etc/ldap/tls/key.pem
        -cert_chain /etc/ldap/tls/chain.pem
    ports:
      - "127.0.0.1::636"
"""
CONSUMER = """\
services:
  ldap:
    image: {image}
    restart: unless-stopped
    stop_grace_period: 1s  # sh as PID 1 ignores SIGTERM: a restart kills it after 1 s, not 10 s
{command}    volumes:
      - certs:/etc/ldap/tls:ro
      - state:/state
    labels:
{labels}
volumes:
  certs:
  state:
"""


@dataclass
class CertsRepo:
    root: Path
    folder: str
    engine: docker.DockerClient

    @property
    def project(self) -> str:
        return project_name(self.folder)

    @property
    def acme(self) -> Path:
        return self.root / "acme.json"

    def publish(self, resolvers: dict[str, list[Issued]]) -> None:
        """Traefik writes acme.json."""
        write_acme(self.acme, acme_v2(resolvers))

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "compose", "-p", self.project, "--project-directory", str(self.root / self.folder), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def container(self) -> docker.models.containers.Container:
        found = self.engine.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", "com.docker.compose.service=ldap"]},
        )
        assert len(found) == 1, found
        return found[0]

    def sh(self, command: str) -> str:
        code, output = self.container().exec_run(["sh", "-c", command])
        assert code == 0, output
        return output.decode()

    def count(self, name: str) -> int:
        """Lines of /state/NAME (reloads, starts)."""
        return int(self.sh(f"cat /state/{name} 2>/dev/null | wc -l").strip())

    def stat(self, path: str) -> str:
        """`uid:gid mode` of a file of the container."""
        return self.sh(f"stat -c '%u:%g %a' {path}").strip()

    def read(self, path: str) -> bytes:
        code, output = self.container().exec_run(["cat", path])
        assert code == 0, output
        return output


def openssl_image(engine: docker.DockerClient) -> str:
    """Debian's openssl on the Debian base, built once per machine and reused by tag."""
    from helpers.debian import debian_base, image_exists
    from helpers.engine import build_image

    if not image_exists(OPENSSL_IMAGE):
        dockerfile = (
            f"FROM {debian_base()}\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends openssl && rm -rf /var/lib/apt/lists/*\n"
        )
        build_image(engine, OPENSSL_IMAGE, dockerfile)
    return OPENSSL_IMAGE


def consumer_labels(domains: str, **extra: str) -> str:
    labels = {"darse.certs.domains": domains, "darse.certs.dir": "/etc/ldap/tls", **extra}
    return textwrap.indent("\n".join(f'{k}: "{v}"' for k, v in labels.items()), " " * 6)


@contextlib.contextmanager
def certs_repo(
    tmp_path: Path, engine: docker.DockerClient, image: str, labels: str, command: str = BUSYBOX_COMMAND
) -> Iterator[CertsRepo]:
    """The repository with `ldap`'s folder, deployed with plain Compose; removed with its volumes after."""
    folder = f"ldap{uuid.uuid4().hex[:8]}"
    root = tmp_path / "repo"
    write_tree(
        root,
        {
            "darse.toml": '[certs]\nacme = "acme.json"\n',
            f"{folder}/compose.yaml": CONSUMER.format(image=image, labels=labels, command=command),
        },
    )
    git_init(root)
    repo = CertsRepo(root, folder, engine)
    try:
        up = repo.compose("up", "-d")
        assert up.returncode == 0, up.stderr
        yield repo
    finally:
        repo.compose("down", "-v", "-t", "0")


# A consumer that never runs (its image is not on any engine): for tests of what darse reads and refuses
LDAP_COMPOSE = """\
services:
  ldap:
    image: example/ldap:1.0
    volumes:
      - certs:/etc/ldap/tls
    labels:
      darse.certs.domains: ldap.example.org
      darse.certs.dir: /etc/ldap/tls
      darse.certs.owner: "{owner}"
volumes:
  certs:
"""


def ldap_compose(owner: str = "0:0") -> str:
    """LDAP_COMPOSE with its `darse.certs.owner` label (0:0 is the owner darse uses without the label)."""
    return LDAP_COMPOSE.format(owner=owner)
