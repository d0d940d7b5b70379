"""The Compose configuration of a throwaway copy of a service folder, for `darse restore --verify`.

A verify restores a backup into a project of its own (`darse-verify-<folder>-<random>`) that runs
the same images with fresh volumes. That copy must neither collide with production nor receive its
traffic, nor write where production keeps anything, so the folder's resolved configuration
(`docker compose config`: env files and paths already resolved, absolute) is changed here:

- no `container_name` (production holds that name), no published `ports`, no `traefik.*` label (the
  proxy would route production's traffic to it), no `network_mode: host` or `container:...`;
- every network internal (no way in or out of the engine's host); external networks (the proxy's)
  replaced by one internal network `darse-verify`; no fixed subnets or addresses (they would clash);
- every named volume a new volume of the project: no `name`, no `external`, no driver options (a
  `local` volume with `o: bind` would mount production's folder); the volumes filled from the backup
  mount with `nocopy` (the engine would otherwise copy the image's files into them first, and a
  restore goes only into an empty volume);
- bind mounts read-only: a configuration file still reaches the container, production's folders
  cannot be changed through it;
- `restart: "no"`, no `build` (the images run as they are: `images` names the ones to run), no
  `logging` (production's log shipping would receive the copy's lines), no `x-` extensions;
- a label `org.darse.verify` on every container, volume and network, for the sweep of leftovers.

The result holds the secret values of the folder's env files: callers keep it in memory and give it
to the engine on standard input (darse.engine.throwaway), never to a file or a message.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Collection, Mapping
from typing import Any

from darse.engine.throwaway import PREFIX, VERIFY_LABEL
from darse.errors import DarseError
from darse.model.service import project_name

INTERNAL_NETWORK = "darse-verify"  # replaces every external network
DROPPED_SERVICE_KEYS = ("container_name", "ports", "build", "external_links", "logging", "pull_policy")
NAME_LIMIT = 40  # characters of the folder's project name kept in the throwaway's name


def folder_prefix(folder: str) -> str:
    """What the names of the throwaway projects of `folder` start with."""
    return f"{PREFIX}{project_name(folder)[:NAME_LIMIT].rstrip('-_')}-"


def throwaway_name(folder: str) -> str:
    """A new, unique throwaway project name for `folder`: `darse-verify-wiki-3fa9c1`."""
    return folder_prefix(folder) + secrets.token_hex(3)


def throwaway_config(
    config: Mapping[str, Any],
    project: str,
    *,
    images: Mapping[str, str] | None = None,
    nocopy: Collection[str] = (),
) -> dict[str, Any]:
    """The throwaway form of a resolved Compose configuration (see the module's docstring). `images`:
    the image to run for some services (an image ID: the one the backup was taken with); `nocopy`:
    the keys of the volumes a restore fills. The input is left as it was."""
    if not project.startswith(PREFIX):
        raise DarseError(f"a throwaway project's name starts with {PREFIX}: not {project!r}", "a bug")
    source = copy.deepcopy(dict(config))
    label = {VERIFY_LABEL: project}
    networks_in = _mapping(source.get("networks"))
    external = {key for key, value in networks_in.items() if _is_external(value)}
    networks: dict[str, Any] = {}
    for key, value in networks_in.items():
        if key not in external:
            networks[key] = _internal(value, label)
    volumes = {key: {"labels": dict(label)} for key in _mapping(source.get("volumes"))}
    services: dict[str, Any] = {}
    for name, raw in _mapping(source.get("services")).items():
        service = dict(_mapping(raw))
        chosen = (images or {}).get(name) or service.get("image")
        if not chosen:
            raise DarseError(
                f"service {name} has no image to run (it is built, and no backup names its image)",
                "build it first (darse build), then verify again",
            )
        service["image"] = chosen
        for key in DROPPED_SERVICE_KEYS:
            service.pop(key, None)
        service["restart"] = "no"
        _drop_restart_policy(service)
        service["labels"] = {**_labels(service.get("labels")), **label}
        _attach(service, external, networks, label)
        service["volumes"] = [_mount(mount, volumes, nocopy, label) for mount in service.get("volumes") or []]
        if not service["volumes"]:
            del service["volumes"]
        volumes_from = [v for v in service.get("volumes_from") or [] if not str(v).startswith("container:")]
        if volumes_from:
            service["volumes_from"] = volumes_from
        else:
            service.pop("volumes_from", None)
        services[name] = service
    out: dict[str, Any] = {"name": project, "services": services}
    if networks:
        out["networks"] = networks
    if volumes:
        out["volumes"] = volumes
    for key in ("secrets", "configs"):
        if key in source:
            out[key] = source[key]
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _is_external(network: Any) -> bool:
    value = _mapping(network).get("external")
    return bool(value) and value not in ("false", "False")


def _internal(network: Any, label: dict[str, str]) -> dict[str, Any]:
    """An internal bridge network of the project: no name of its own, no subnet, no driver options."""
    kept = {key: value for key, value in _mapping(network).items() if key in ("enable_ipv6",) and value is False}
    return {**kept, "internal": True, "labels": dict(label)}


def _labels(value: Any) -> dict[str, str]:
    """The service's labels without Traefik's (which route traffic to it) or darse's (which make
    `darse status` count it as the service)."""
    if isinstance(value, list):  # the list form, in case a caller passes an unresolved document
        value = dict(str(item).partition("=")[::2] for item in value)
    return {
        str(key): str(item)
        for key, item in _mapping(value).items()
        if not str(key).lower().startswith(("traefik.", "org.darse."))
    }


def _drop_restart_policy(service: dict[str, Any]) -> None:
    deploy = service.get("deploy")
    if isinstance(deploy, dict):
        deploy.pop("restart_policy", None)
        if not deploy:
            service.pop("deploy")


def _attach(service: dict[str, Any], external: set[str], networks: dict[str, Any], label: dict[str, str]) -> None:
    """The service's networks: the external ones replaced by `darse-verify`, no fixed address; a host
    or another container's network replaced by the project's default network."""
    mode = str(service.get("network_mode") or "")
    if mode == "host" or mode.startswith("container:"):
        service.pop("network_mode")
        service["networks"] = {"default": None}
    if "network_mode" in service:  # none, bridge, service:x: nothing of production's
        if mode == "bridge":  # the engine's default bridge reaches out: the project's network instead
            service.pop("network_mode")
            service["networks"] = {"default": None}
        else:
            service.pop("networks", None)
            return
    attached = service.get("networks")
    if isinstance(attached, list):
        attached = {key: None for key in attached}
    attached = _mapping(attached) if attached is not None else {"default": None}
    out: dict[str, Any] = {}
    for key, value in attached.items():
        settings = {
            k: v for k, v in _mapping(value).items() if k not in ("ipv4_address", "ipv6_address", "link_local_ips")
        }
        target = INTERNAL_NETWORK if key in external else key
        if target not in networks:
            networks[target] = _internal(None, label)
        out[target] = {**_mapping(out.get(target)), **settings} or None
    service["networks"] = out


def _mount(mount: Any, volumes: dict[str, Any], nocopy: Collection[str], label: dict[str, str]) -> Any:
    """One entry of a service's `volumes`: a bind mount made read-only, a named volume declared in the
    project (an external one becomes the project's own), with `nocopy` when a restore fills it."""
    if not isinstance(mount, Mapping):
        raise DarseError(
            f"a volume entry {str(mount)[:60]!r} is not resolved", "pass the configuration docker compose config gives"
        )
    entry = dict(mount)
    kind = entry.get("type")
    if kind == "bind":
        entry["read_only"] = True
    elif kind == "volume" and entry.get("source"):
        key = str(entry["source"])
        volumes.setdefault(key, {"labels": dict(label)})
        options = {k: v for k, v in _mapping(entry.get("volume")).items() if k != "nocopy"}
        if key in nocopy:
            options["nocopy"] = True
        if options:
            entry["volume"] = options
        else:
            entry.pop("volume", None)
    return entry
