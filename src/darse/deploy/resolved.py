"""The resolved Compose configuration (`docker compose config`): hashed, masked, labelled, pinned.

It holds env_file values merged into `environment`, so it is never stored or printed as is: history
keeps its hash and a masked copy (`masked`, through `darse.masking`), and `darse diff` shows masked
copies only.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from darse.masking import Masker


def _map_strings(node: Any, change) -> Any:
    if isinstance(node, str):
        return change(node)
    if isinstance(node, dict):
        return {key: _map_strings(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_strings(item, change) for item in node]
    return node


def normalised(config: dict[str, Any], service_dirs: tuple[Path, ...]) -> dict[str, Any]:
    """The configuration with the service folder's absolute path written `.`, so the same commit
    deployed from the working tree or from a rollback release hashes the same. `service_dirs` are the
    folders standing for the service folder (the one deployed from, and the working tree's)."""
    prefixes = [str(folder) for folder in service_dirs]

    def change(text: str) -> str:
        for prefix in prefixes:
            if text == prefix:
                return "."
            if text.startswith(prefix + "/"):
                return "./" + text[len(prefix) + 1 :]
        return text

    return _map_strings(config, change)


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config: dict[str, Any], service_dirs: tuple[Path, ...]) -> str:
    """`sha256:` of the normalised configuration as canonical JSON."""
    return _digest(normalised(config, service_dirs))


def service_hashes(config: dict[str, Any], service_dirs: tuple[Path, ...]) -> dict[str, str]:
    """`compose service -> sha256:` of its own normalised section: what decides whether its container
    must change (a change to the web service must not restart the database beside it)."""
    services = normalised(config, service_dirs).get("services") or {}
    return {name: _digest(section) for name, section in services.items()}


def masked(config: dict[str, Any], service_dirs: tuple[Path, ...], masker: Masker) -> dict[str, Any]:
    """A copy safe to store and show (see `darse.masking`)."""
    return masker.data(normalised(config, service_dirs))


def masked_text(config: dict[str, Any], service_dirs: tuple[Path, ...], masker: Masker) -> str:
    return json.dumps(masked(config, service_dirs, masker), sort_keys=True, indent=1)


def with_labels(config: dict[str, Any], labels: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A copy where each service carries `labels[service]` besides its own."""
    out = copy.deepcopy(config)
    for name, service in (out.get("services") or {}).items():
        own = service.get("labels") or {}
        if isinstance(own, list):  # `config` gives a mapping; accept the list form anyway
            own = dict(item.split("=", 1) if "=" in item else (item, "") for item in own)
        service["labels"] = {**own, **labels.get(name, {})}
    return out


def pin_images(config: dict[str, Any], images: dict[str, Any], current_id) -> dict[str, str]:
    """In place: each service whose tag no longer names the image recorded for an earlier deployment
    runs that image again, by registry digest when known, else by local image ID (`current_id(ref)`
    gives the engine's image ID for a reference, "" when absent). A tag that still names the recorded
    image is left as is, so an unchanged container is not recreated. Returns `service -> pinned ref`."""
    pinned: dict[str, str] = {}
    for name, service in (config.get("services") or {}).items():
        record = images.get(name) or {}
        tag = service.get("image", "")
        if not record or not record.get("id") or tag != record.get("image"):
            continue  # nothing recorded for this definition of the service
        if current_id(tag) == record["id"]:
            continue
        for ref in [*(record.get("digests") or []), record["id"]]:
            if current_id(ref) == record["id"]:
                service["image"] = ref
                pinned[name] = ref
                break
    return pinned


def external_networks(config: dict[str, Any]) -> list[str]:
    out = []
    for key, network in (config.get("networks") or {}).items():
        if isinstance(network, dict) and network.get("external"):
            out.append(network.get("name") or key)
    return out


def rebind_unversioned(config: dict[str, Any], release: Path, tree: Path) -> list[str]:
    """In place: bind mounts of a rollback release whose source Git does not hold (a data folder, a
    socket, anything unversioned) point back at the working tree's copy, so a rollback never starts a
    service on an empty folder beside its real data. Returns the rebound sources."""
    rebound = []
    for service in (config.get("services") or {}).values():
        for mount in service.get("volumes") or []:
            source = mount.get("source", "") if isinstance(mount, dict) else ""
            if mount.get("type") != "bind" or not source.startswith(str(release) + "/"):
                continue
            relative = Path(source).relative_to(release)
            if not Path(source).exists() and (tree / relative).exists():
                mount["source"] = str(tree / relative)
                rebound.append(relative.as_posix())
    return rebound
