"""The library calls behind `darse registry ...`: users, the service folder, listing, deletion, gc.

Each returns a plain result whose `to_dict()` is the command's JSON. Asking for a password or a
confirmation is the interface's business: the calls are split where it has to ask (find the htpasswd
file, then add the user; plan a deletion, then delete).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from darse.errors import DarseError
from darse.images.registry import folder as registry_folder
from darse.images.registry import htpasswd
from darse.images.registry.client import RegistryClient
from darse.images.registry.listing import TagRow, list_images, tags_sharing

# -- users -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HtpasswdLocation:
    """The htpasswd file to edit, and the registry service folder it belongs to (None: a file given alone)."""

    file: Path
    service_folder: Path | None


def locate_htpasswd(folder: Path | None = None, file: Path | None = None) -> HtpasswdLocation:
    """The file given, else the one of the registry service folder (given, or found from here)."""
    if file is not None:
        return HtpasswdLocation(file, folder)
    found = registry_folder.find_registry_folder(folder)
    return HtpasswdLocation(found / registry_folder.HTPASSWD, found)


def check_username(name: str) -> None:
    """Refuse a user name the registry cannot take (before the password is asked for)."""
    htpasswd.check_username(name)


def restart_registry(location: HtpasswdLocation, restart: bool = True) -> bool | None:
    """Restart the running registry (it reads htpasswd only at start); None when not attempted."""
    if location.service_folder is None or not restart:
        return None
    return registry_folder.restart_registry_if_running(location.service_folder)


@dataclass(frozen=True)
class UserAdded:
    user: str
    file: Path
    existed: bool  # the password of an existing user was changed
    restarted: bool | None  # None: no restart attempted (a file given alone, or --no-restart)

    def to_dict(self) -> dict:
        data: dict = {"user": self.user, "file": str(self.file), "changed": self.existed, "added": not self.existed}
        if self.restarted is not None:
            data["restarted"] = self.restarted
        return data


@dataclass(frozen=True)
class UserRemoved:
    user: str
    file: Path
    restarted: bool | None

    def to_dict(self) -> dict:
        data: dict = {"user": self.user, "file": str(self.file), "removed": True}
        if self.restarted is not None:
            data["restarted"] = self.restarted
        return data


@dataclass(frozen=True)
class UserEntry:
    user: str
    bcrypt: bool  # False: a hash the registry rejects

    def to_dict(self) -> dict:
        return {"user": self.user, "bcrypt": self.bcrypt}


def add_user(
    location: HtpasswdLocation, name: str, password: str, *, cost: int = htpasswd.ROUNDS, restart: bool = True
) -> UserAdded:
    """Add a user or change its password, then restart the running registry so that it reads the file."""
    existed = htpasswd.add_user(location.file, name, password, cost)
    return UserAdded(name, location.file, existed, restart_registry(location, restart))


def remove_user(location: HtpasswdLocation, name: str, *, restart: bool = True) -> UserRemoved:
    htpasswd.remove_user(location.file, name)
    return UserRemoved(name, location.file, restart_registry(location, restart))


def list_users(location: HtpasswdLocation) -> list[UserEntry]:
    """The users, names only: hashes never leave the file."""
    return [UserEntry(name, usable) for name, usable in htpasswd.list_users(location.file)]


# -- the service folder ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryFolderWritten:
    host: str
    folder: Path
    files: list[Path]

    def to_dict(self) -> dict:
        return {"host": self.host, "files": [str(p) for p in self.files]}


def init_registry(
    folder: Path, *, host: str | None = None, own_tls: bool = False, port: int = 443, start: Path | None = None
) -> RegistryFolderWritten:
    """Write the registry service folder; its name is `host`, else darse.toml's registry, else registry.<domain>."""
    from darse.config import find_root, load_config

    config = load_config(find_root(start or Path.cwd()))
    name = host or config.registry or (f"registry.{config.domain}" if config.domain else "")
    if not name:
        raise DarseError("no registry host name", "pass --host registry.example.org (or set domain in darse.toml)")
    written = registry_folder.write_registry_folder(
        folder, host=name, network=config.proxy_network, own_tls=own_tls, port=port
    )
    return RegistryFolderWritten(name, folder, written)


@dataclass(frozen=True)
class GarbageCollected:
    folder: Path
    dry_run: bool
    blobs: int  # blobs freed (or that would be, on a dry run)

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "dry_run": self.dry_run, "blobs": self.blobs}


def collect_garbage(folder: Path | None = None, *, dry_run: bool = False, untagged: bool = False) -> GarbageCollected:
    """Run the registry's garbage collector in its running service: frees the layers no manifest uses."""
    found = registry_folder.find_registry_folder(folder)
    text = registry_folder.collect_registry_garbage(found, dry_run=dry_run, untagged=untagged)
    eligible = [line for line in text.splitlines() if "blob eligible for deletion" in line]
    return GarbageCollected(found, dry_run, len(eligible))


# -- what the registry holds -----------------------------------------------------------------------


def open_registry(registry: str | None = None, start: Path | None = None) -> RegistryClient:
    """A client for `registry`, else darse.toml's; login and CA as Docker would find them."""
    from darse.config import find_root, load_config
    from darse.images.registry.credentials import ca_bundle_for, resolve_credentials

    host = registry or load_config(find_root(start or Path.cwd())).registry
    if not host:
        raise DarseError("no registry given", 'pass --registry HOST or set registry = "HOST" in darse.toml')
    return RegistryClient(host, credentials=resolve_credentials(host), ca_bundle=ca_bundle_for(host))


def list_registry(client: RegistryClient, repository: str | None = None, *, workers: int = 8) -> list[TagRow]:
    """Every tag of `repository` (default: of every repository), with digest, size and build time."""
    return list_images(client, [repository] if repository else None, workers=workers)


@dataclass(frozen=True)
class Removal:
    """A manifest to delete by digest, and every tag that goes with it."""

    repository: str
    digest: str
    tags: list[str]

    @property
    def names(self) -> str:
        return ", ".join(f"{self.repository}:{t}" for t in self.tags)

    def to_dict(self) -> dict:
        return {"repository": self.repository, "digest": self.digest, "tags": self.tags}


def split_tag_reference(reference: str) -> tuple[str, str]:
    """`pad:2.0.3` → ("pad", "2.0.3"): what `darse registry rm` deletes (a tag, never a bare name)."""
    repository, sep, tag = reference.rpartition(":")
    if not sep or not repository or "/" in tag:
        raise DarseError(f"not REPOSITORY:TAG: {reference[:80]!r}", "e.g. darse registry rm pad:2.0.3")
    return repository, tag


def plan_removal(client: RegistryClient, repository: str, tag: str) -> Removal:
    """What deleting `repository:tag` removes: its digest and every tag on that digest."""
    digest = client.manifest_digest(repository, tag)
    if digest is None:
        raise DarseError(f"no tag {repository}:{tag} at {client.host}", "list them with darse registry ls")
    return Removal(repository, digest, tags_sharing(client, repository, digest))


def remove(client: RegistryClient, removal: Removal) -> Removal:
    """Delete the manifest: every tag of `removal` disappears; `darse registry gc` frees the space."""
    client.delete_manifest(removal.repository, removal.digest)
    return removal
