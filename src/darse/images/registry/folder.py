"""The registry as a service of the repository: the folder `darse registry init` writes, finding it
again, restarting the service in it and running its garbage collector.

The folder runs `registry:2` the way the guide wants any service: a named volume for the data,
`restart: unless-stopped`, `init: true`, HTTPS through the Traefik labels (or the registry's own
certificate files on a host without the proxy), deletion enabled so `darse registry rm` and garbage
collection reclaim space, and htpasswd authentication whose file is a real secret (`*.secrets`,
never committed; its example is).
"""

from __future__ import annotations

import re
from pathlib import Path

from darse.engine.compose import ComposeRunner
from darse.errors import DarseError
from darse.fsutil import write_atomic
from darse.model.compose import COMPOSE_NAMES

SERVICE = "registry"
IMAGE = "registry:2.8.3"
HTPASSWD = Path("auth/htpasswd.secrets")
CONFIG_IN_CONTAINER = "/etc/docker/registry/config.yml"
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)+$")

_CONFIG = """\
# Configuration of the private registry (distribution 2.8), mounted read-only into the container.
version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  # `darse registry rm` deletes manifests by digest; `darse registry gc` then frees their layers.
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
{tls}auth:
  # bcrypt only; users are managed with `darse registry user add|remove|list`.
  htpasswd:
    realm: {realm}
    path: /auth/htpasswd.secrets
"""

_TLS = """\
  # The registry's own certificate: this host has no Traefik proxy in front of it.
  tls:
    certificate: /certs/registry.crt
    key: /certs/registry.key
"""

_COMPOSE_PROXY = """\
# The repository owners' private registry (registry:2): `darse push` stores home-made images here,
# `darse up` pulls them by version. HTTPS comes from the Traefik proxy.
services:
  registry:
    image: {image}
    restart: unless-stopped
    init: true
    volumes:
      # Layers and manifests persist across re-creations of the container.
      - registry-data:/var/lib/registry
      # Configuration (deletion enabled, htpasswd authentication), versioned next to this file.
      - ./config.yml:{config}:ro
      # The htpasswd file (a real secret, never committed): `darse registry user add NAME`.
      - ./auth:/auth:ro
    labels:
      traefik.enable: "true"
      traefik.http.routers.registry.rule: Host(`{host}`)
      traefik.http.routers.registry.entrypoints: websecure
      traefik.http.routers.registry.tls.certresolver: letsencrypt
      traefik.http.services.registry.loadbalancer.server.port: "5000"
    networks:
      - {network}

volumes:
  registry-data:
    name: registry_data

networks:
  {network}:
    external: true
"""

_COMPOSE_TLS = """\
# The repository owners' private registry (registry:2): `darse push` stores home-made images here,
# `darse up` pulls them by version. This host has no proxy: the registry serves HTTPS itself with the
# certificate files in ./certs (registry.crt with its chain, registry.key; never committed).
services:
  registry:
    image: {image}
    restart: unless-stopped
    init: true
    ports:
      # No proxy on this host to route it: the registry answers HTTPS on its own port.
      # darse: ignore[DC006]
      - "{port}:5000"
    volumes:
      # Layers and manifests persist across re-creations of the container.
      - registry-data:/var/lib/registry
      # Configuration (deletion enabled, htpasswd authentication, TLS), versioned next to this file.
      - ./config.yml:{config}:ro
      # The htpasswd file (a real secret, never committed): `darse registry user add NAME`.
      - ./auth:/auth:ro
      # The certificate and its key.
      - ./certs:/certs:ro

volumes:
  registry-data:
    name: registry_data
"""

_README = """\
# registry

The private Docker registry of this repository (`{image}`, the distribution registry), at
`{host}`. Home-made images are built with `darse build SERVICE`, pushed with `darse push SERVICE`
and deployed by tag.

- **Storage**: the named volume `registry_data` (`/var/lib/registry`). Never removed by darse.
- **Authentication**: htpasswd with bcrypt, file `auth/htpasswd.secrets` (not committed; its example
  is). Manage users with `darse registry user add|remove|list NAME --folder {folder}`; darse
  restarts the running registry after a change, since it reads the file only at start.
- **HTTPS**: {https}
- **Deletion** is enabled: `darse registry rm REPO:TAG` deletes a manifest by digest (every tag on
  that digest goes with it), then `darse registry gc` runs the registry's garbage collector inside
  this service to free the layers nobody references any more.

Deploy: `cd {folder} && docker compose up -d`, then `darse registry user add NAME` and
`docker login {host}`.
"""

_HTTPS_PROXY = "through the Traefik proxy (labels in compose.yaml, Let's Encrypt certificate)."
_HTTPS_OWN = (
    "the registry's own certificate: put `registry.crt` (with its chain) and `registry.key` in `certs/`"
    " (not committed)."
)

_EXAMPLE = "# One line per user: NAME:BCRYPT-HASH. Written by `darse registry user add NAME`.\n"
_GITIGNORE = "# Real secrets stay on the host.\n*.secrets\ncerts/*.key\ncerts/*.crt\n"


def write_registry_folder(
    folder: Path, *, host: str, network: str, own_tls: bool = False, port: int = 443
) -> list[Path]:
    """Write the registry service folder; refuses to overwrite anything. Returns the files written."""
    if not _DOMAIN.match(host.split(":")[0]):
        raise DarseError(f"not a host name: {host[:80]!r}", "give the registry's DNS name, e.g. registry.example.org")
    if folder.exists() and any(folder.iterdir()):
        raise DarseError(f"{folder} exists and is not empty", "choose another folder, or remove it first")
    realm = f"{host} registry"
    files = {
        "compose.yaml": (_COMPOSE_TLS if own_tls else _COMPOSE_PROXY).format(
            image=IMAGE, config=CONFIG_IN_CONTAINER, host=host, network=network, port=port
        ),
        "config.yml": _CONFIG.format(tls=_TLS if own_tls else "", realm=realm),
        "README.md": _README.format(
            image=IMAGE, host=host, folder=folder.name, https=_HTTPS_OWN if own_tls else _HTTPS_PROXY
        ),
        ".gitignore": _GITIGNORE,
        str(HTPASSWD) + ".example": _EXAMPLE,
    }
    if own_tls:
        files["certs/.gitkeep"] = ""
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        written.append(path)
    real = folder / HTPASSWD
    write_atomic(real, _EXAMPLE, mode=0o600)  # empty of users: nobody logs in until `user add`
    written.append(real)
    return written


def is_registry_folder(folder: Path) -> bool:
    compose = next((folder / n for n in COMPOSE_NAMES if (folder / n).is_file()), None)
    if compose is None:
        return False
    try:
        text = compose.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return False
    return bool(re.search(r"^\s*image:\s*[\"']?(?:docker\.io/)?(?:library/)?registry:", text, re.MULTILINE))


def find_registry_folder(folder: Path | None) -> Path:
    """The given folder, else the current folder if it runs registry:2, else `<repository>/registry`."""
    from darse.config import find_root

    if folder is not None:
        if not folder.is_dir():
            raise DarseError(f"{folder} is not a folder", "give the registry service folder (darse registry init)")
        return folder
    here = Path.cwd()
    if is_registry_folder(here):
        return here
    candidate = find_root(here) / SERVICE
    if candidate.is_dir():
        return candidate
    raise DarseError(
        "no registry service folder found",
        "pass --folder FOLDER (or --htpasswd FILE), or create one with darse registry init",
    )


def _compose(folder: Path) -> ComposeRunner:
    """Compose on the registry's folder, as `docker compose` typed there would run (its project name,
    the environment's engine), through the engine layer's runner (plugin lookup, endpoint)."""
    return ComposeRunner(None, directory=folder)


def restart_registry_if_running(folder: Path, service: str = SERVICE) -> bool:
    """`docker compose restart` the registry service when it runs (it reads htpasswd only at start)."""
    if not any((folder / n).is_file() for n in COMPOSE_NAMES):
        return False
    try:
        compose = _compose(folder)
        running = compose.run(["ps", "--status", "running", "--quiet", service], timeout=60, separate=True)
    except (DarseError, OSError):
        return False
    if running.returncode != 0 or not running.output.strip():
        return False
    restarted = compose.run(["restart", service], timeout=120, separate=True)
    if restarted.returncode != 0:
        raise DarseError(
            f"restarting the registry in {folder} failed: {restarted.errors.strip()[-200:]}",
            "restart it by hand: docker compose restart registry",
        )
    return True


def collect_registry_garbage(
    folder: Path, *, dry_run: bool = False, untagged: bool = False, service: str = SERVICE
) -> str:
    """Run the registry's garbage collector inside the running service; returns its output."""
    args = ["exec", "-T", service, "registry", "garbage-collect"]
    if dry_run:
        args.append("--dry-run")
    if untagged:
        args.append("--delete-untagged")
    args.append(CONFIG_IN_CONTAINER)
    try:
        proc = _compose(folder).run(args, timeout=3600, separate=True)
    except OSError as exc:
        raise DarseError(f"cannot run docker compose: {exc.strerror}", "is the Docker CLI installed?") from None
    if proc.timed_out:
        raise DarseError("garbage collection took over an hour", "check the registry's logs")
    if proc.returncode != 0:
        raise DarseError(
            f"garbage collection in {folder} failed: {proc.errors.strip()[-300:]}",
            "is the registry service running? (docker compose up -d)",
        )
    return proc.output
