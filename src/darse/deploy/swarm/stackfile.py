"""The document handed to `docker stack deploy`, made from the Compose file as Compose resolves it.

darse never re-implements Compose: `docker compose config` interpolates variables, reads env files and
makes paths absolute; this module only adapts that result to what a Swarm needs:

- the top-level `name` (a Compose project key the stack loader refuses) is dropped;
- every file-based secret gets a name ending in a hash of its content: Swarm secrets cannot be updated
  in place, so a changed secret becomes a new secret the services roll over to, and the old one is
  removed once no service uses it;
- every service gets darse's deployment labels and an update policy that rolls back on failure, unless
  the file says otherwise, so a failed update never stays half-done.

The document holds environment values read from env files: it is passed to the CLI on standard input
and never written to disk or printed.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from darse.errors import DarseError

SECRET_HASH_LENGTH = 12
MAX_SECRET_BYTES = 500 * 1024  # Swarm's own limit for a secret
DEFAULT_UPDATE = {"failure_action": "rollback", "monitor": "10s", "order": "stop-first"}
DEFAULT_ROLLBACK = {"failure_action": "pause", "order": "stop-first"}


@dataclass
class StackDocument:
    document: dict[str, Any]
    secret_names: dict[str, str] = field(default_factory=dict)  # key in the file -> hashed Swarm name
    images: dict[str, str] = field(default_factory=dict)  # service -> image reference


def make_stack_document(resolved: dict[str, Any], stack: str, labels: dict[str, str]) -> StackDocument:
    """Adapt `docker compose config --format json` output for `docker stack deploy`."""
    if not isinstance(resolved, dict) or not isinstance(resolved.get("services"), dict):
        raise DarseError("the resolved Compose file has no services", "check it with `docker compose config`")
    document = copy.deepcopy(resolved)
    document.pop("name", None)
    result = StackDocument(document)
    for key, secret in (document.get("secrets") or {}).items():
        if isinstance(secret, dict) and secret.get("file"):
            name = f"{stack}_{key}_{secret_digest(Path(secret['file']), key)}"
            secret["name"] = name
            result.secret_names[key] = name
    for name, service in document["services"].items():
        if not isinstance(service, dict):
            continue
        image = service.get("image")
        if not image:
            raise DarseError(
                f"service {name} has no image: a Swarm only runs images from a registry",
                "build and push it (`darse build`, `darse push`) and name it under image:",
            )
        result.images[name] = str(image)
        deploy = service.setdefault("deploy", {})
        deploy["labels"] = {**(deploy.get("labels") or {}), **labels}
        deploy["update_config"] = {**DEFAULT_UPDATE, **(deploy.get("update_config") or {})}
        deploy["rollback_config"] = {**DEFAULT_ROLLBACK, **(deploy.get("rollback_config") or {})}
        _drop_what_stacks_refuse(service)
    return result


def _drop_what_stacks_refuse(service: dict[str, Any]) -> None:
    """Remove what Compose's output holds but the stack loader refuses or ignores (SW001-SW004 tell the
    user): nulls (`entrypoint: null`), Compose-only keys, and the long-syntax `bind.create_host_path`."""
    for key in [k for k, v in service.items() if v is None]:
        del service[key]
    for key in ("build", "container_name", "restart", "depends_on", "pull_policy"):
        service.pop(key, None)
    for mount in service.get("volumes") or []:
        if isinstance(mount, dict) and isinstance(mount.get("bind"), dict):
            mount["bind"].pop("create_host_path", None)
            if not mount["bind"]:
                del mount["bind"]


def secret_digest(path: Path, key: str) -> str:
    """The first hex digits of the SHA-256 of a secret file (never its content)."""
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_BYTES:
            raise DarseError(f"secret {key} ({path}) is larger than 500 KiB", "a Swarm refuses larger secrets")
        data = path.read_bytes()
    except FileNotFoundError:
        raise DarseError(f"secret file {path} is missing", "create it with `darse secrets init SERVICE`") from None
    except OSError as exc:
        raise DarseError(f"cannot read secret file {path}: {exc.strerror}", "check its permissions") from None
    return hashlib.sha256(data).hexdigest()[:SECRET_HASH_LENGTH]
