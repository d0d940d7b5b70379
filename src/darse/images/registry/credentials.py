"""Where a registry password comes from: the environment, or Docker's own config.json and its helpers.

Never from the command line (it would sit in shell history and in `ps`), never printed. Order:
`DARSE_REGISTRY_USER` + `DARSE_REGISTRY_PASSWORD`, then `credHelpers[host]`, then `auths[host]`,
then `credsStore` — the way `docker login` stored it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError

ENV_USER = "DARSE_REGISTRY_USER"
ENV_PASSWORD = "DARSE_REGISTRY_PASSWORD"
ENV_CA = "DARSE_REGISTRY_CA"
CERTS_D = Path("/etc/docker/certs.d")
_HELPER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Credentials:
    """A registry login. The password never shows in `repr`, `str` or any message."""

    username: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"Credentials(username={self.username!r})"


def docker_config_path() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def _load_config() -> dict:
    path = docker_config_path()
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > 4 * 1024 * 1024:
            raise DarseError(f"{path} is over 4 MiB", "that is not Docker's config.json")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DarseError(f"cannot read {path}", "fix or remove Docker's config.json") from None
    return data if isinstance(data, dict) else {}


def _keys_for(host: str) -> tuple[str, ...]:
    return (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"https://{host}/v1/")


def _from_helper(helper: str, host: str) -> Credentials | None:
    if not _HELPER.match(helper):
        raise DarseError(f"invalid credential helper name {helper[:40]!r} in config.json", "fix Docker's config.json")
    try:
        proc = subprocess.run(
            [f"docker-credential-{helper}", "get"], input=host, capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise DarseError(
            f"credential helper docker-credential-{helper} not found", "install it or fix config.json"
        ) from None
    except subprocess.TimeoutExpired:
        raise DarseError(f"credential helper docker-credential-{helper} did not answer", "check the helper") from None
    if proc.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(proc.stdout[:1_000_000])
        user, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        raise DarseError(f"docker-credential-{helper} answered something unreadable", "check the helper") from None
    if not isinstance(user, str) or not isinstance(secret, str) or user == "<token>":
        return None
    return Credentials(user, secret)


def _from_auths(auths: dict, host: str) -> Credentials | None:
    for key in _keys_for(host):
        entry = auths.get(key)
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"])
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise DarseError(
                    f"the stored login for {host} in config.json is unreadable", "docker login again"
                ) from None
            if sep and user:
                return Credentials(user, password)
    return None


def resolve_credentials(host: str) -> Credentials | None:
    """The login for `host`, or None (anonymous)."""
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if user and password:
        return Credentials(user, password)
    if user or password:
        raise DarseError(f"only one of {ENV_USER} and {ENV_PASSWORD} is set", "set both, or neither")
    config = _load_config()
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
        return _from_helper(helpers[host], host)
    auths = config.get("auths")
    if isinstance(auths, dict):
        found = _from_auths(auths, host)
        if found:
            return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _from_helper(store, host)
    return None


def ca_bundle_for(host: str) -> str | None:
    """`DARSE_REGISTRY_CA`, else the CA Docker itself trusts for this host (`/etc/docker/certs.d/HOST/ca.crt`)."""
    explicit = os.environ.get(ENV_CA)
    if explicit:
        return explicit
    candidate = CERTS_D / host / "ca.crt"
    return str(candidate) if candidate.is_file() else None


def auth_config(credentials: Credentials | None) -> dict[str, str] | None:
    """The engine's X-Registry-Auth payload (docker-py's `auth_config`), sent in a header, never argv."""
    if credentials is None:
        return None
    return {"username": credentials.username, "password": credentials.password}
