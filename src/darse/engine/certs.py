"""Certificate files in a consumer's volume, through the engine: read them, write them, reload the consumer.

Files reach the consumer's volume (or bind mount) the same way on a local and on a remote engine: a
short-lived helper container is *created* (never started: no process, no network, so any image will
do; the consumer's own image is on that engine already) with the volume mounted read-write, and the
files go in through the engine's archive endpoint. The engine resolves every path inside the helper's
own root, so a symlink planted in the volume cannot send a write to the host.

Each file is written whole, with its owner and mode, into a staging folder `.darse-certs/` beside the
files, then hard-linked over its name: a consumer never sees a partial file or a key with the wrong
owner or mode (the engine replaces a name by unlinking it and linking the new file, so for a few
microseconds between the two a name can be missing; the consumer is reloaded only after every file
is in place).
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import tarfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from darse.engine.docker import COMPOSE_SERVICE_LABEL, PROJECT_LABEL, Engine, stop_timeout
from darse.errors import DarseError

STAGING = ".darse-certs"  # beside the files, in the consumer's folder
# in STAGING: the fingerprint of a certificate written but whose consumer is not reloaded yet (empty
# once it is): a reload that failed, or a sync stopped between the write and the reload, is done again
PENDING = ".darse-certs-reload-pending"  # no file name can start with .darse-certs (darse.certs.labels)
HELPER_LABEL = "org.darse.certs-helper"  # marks the helper containers (never started) for cleanup
MAX_FILE_BYTES = 1024 * 1024  # a certificate chain and key are a few KiB
EXEC_OUTPUT_BYTES = 4096  # the end of a reload command's output, kept to explain its failure
RESTART_TIMEOUT = 10  # seconds a consumer without a stop grace period of its own gets to stop before it is killed
RELOAD_TIMEOUT = 60.0  # seconds an exec: reload command may run
STALE_HELPER = 600  # seconds after which a helper container is a leftover of a darse killed mid-write
_GO_MODE_DIR = 1 << 31  # the engine's stat of a path holds a Go os.FileMode
_GO_MODE_SYMLINK = 1 << 27


@dataclass(frozen=True)
class OwnedFile:
    """One file of a consumer's folder, read back or to write: name, owner, mode and bytes (a key's bytes
    are never shown: `repr` leaves them out)."""

    name: str
    uid: int
    gid: int
    mode: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class PublishedPort:
    """A container port the engine's host publishes: where a client (and `darse certs status`) connects."""

    container_port: int
    host: str  # the address to connect to: the engine's host
    port: int


@dataclass(frozen=True)
class ConsumerContainer:
    id: str
    name: str
    running: bool
    image_id: str
    ports: tuple[PublishedPort, ...] = ()


class CertsEngineError(DarseError):
    """The engine refused a read, a write or a reload of a consumer's certificate files."""


class ConsumerFiles:
    """The certificate files of one Compose service's containers on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def _api(self) -> Any:
        return self.engine.docker_api

    def containers(self, project: str, compose_service: str) -> list[ConsumerContainer]:
        """The containers of a Compose service (every replica, stopped ones too), helpers left out."""
        labels = [f"{PROJECT_LABEL}={project}", f"{COMPOSE_SERVICE_LABEL}={compose_service}"]
        try:
            listed = self.engine.api.containers(all=True, filters={"label": labels})
        except Exception as exc:  # the engine's error, or its connection lost: one line, never a traceback
            raise _engine_error(f"cannot list the containers of {project}/{compose_service}", exc) from None
        found = []
        for raw in listed:
            if HELPER_LABEL in (raw.get("Labels") or {}):
                continue
            name = ((raw.get("Names") or ["?"])[0]).lstrip("/")
            ports = self._published(raw.get("Ports") or [])
            found.append(
                ConsumerContainer(raw["Id"], name, raw.get("State") == "running", raw.get("ImageID", ""), ports)
            )
        return sorted(found, key=lambda c: c.name)

    def _published(self, raw: list[dict[str, Any]]) -> tuple[PublishedPort, ...]:
        """TCP ports published on the engine's host, once each (the engine lists IPv4 and IPv6 apart)."""
        host = engine_host(self.engine.url)
        seen: dict[int, PublishedPort] = {}
        for item in raw:
            if item.get("Type") != "tcp" or not item.get("PublicPort"):
                continue
            bound = str(item.get("IP") or "")
            address = host if bound in ("", "0.0.0.0", "::") or host != "127.0.0.1" else bound
            private = int(item["PrivatePort"])
            seen.setdefault(private, PublishedPort(private, address, int(item["PublicPort"])))
        return tuple(sorted(seen.values(), key=lambda p: p.container_port))

    def read(self, container: ConsumerContainer, directory: str, names: Sequence[str]) -> dict[str, OwnedFile]:
        """The regular files among `names` in `directory` of the container (running or not); a name that
        is missing, too big or not a regular file (a symlink planted there) is left out."""
        found: dict[str, OwnedFile] = {}
        for name in names:
            data = self._get(container.id, posixpath.join(directory, name))
            if data is None:
                continue
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
                    member = archive.next()
                    if member is None or not member.isreg() or member.size > MAX_FILE_BYTES:
                        continue
                    handle = archive.extractfile(member)
                    content = handle.read(MAX_FILE_BYTES) if handle else b""
            except (tarfile.TarError, OSError):
                continue
            found[name] = OwnedFile(name, member.uid, member.gid, member.mode & 0o7777, content)
        return found

    def pending_reload(self, container: ConsumerContainer, directory: str) -> str:
        """The fingerprint of the certificate `directory` holds whose reload is still to be done ("" when
        none is): see PENDING."""
        found = self.read(container, posixpath.join(directory, STAGING), [PENDING]).get(PENDING)
        return found.data[:128].decode("ascii", "replace").strip() if found else ""

    def _get(self, container_id: str, path: str) -> bytes | None:
        """The engine's archive of one path, bounded: None when it does not exist or is too big."""
        import docker.errors

        try:
            stream, stat = self._api.get_archive(container_id, path, chunk_size=65536)
        except docker.errors.NotFound:
            return None
        except Exception as exc:  # the engine's error, or its connection lost
            raise _engine_error(f"cannot read {path} in container {container_id[:12]}", exc) from None
        if int(stat.get("size") or 0) > MAX_FILE_BYTES:
            return None
        buffer = bytearray()
        try:
            for chunk in stream:
                buffer += chunk
                if len(buffer) > MAX_FILE_BYTES + 64 * 1024:
                    return None
        except Exception as exc:
            raise _engine_error(f"cannot read {path} in container {container_id[:12]}", exc) from None
        return bytes(buffer)

    def write(
        self,
        container: ConsumerContainer,
        mount_target: str,
        directory: str,
        files: Sequence[OwnedFile],
        pending: bytes | None = None,
    ) -> None:
        """Write `files` into `directory` (inside the volume or bind mount at `mount_target` of the
        container) through a helper container that is created, used and removed here; and, in the
        same archive, STAGING/PENDING with `pending` when it is not None."""
        mount = self._mount_of(container.id, mount_target)
        self._remove_stale_helpers(container)
        helper = self._create_helper(container, mount)
        try:
            self._ensure_folder(helper, mount_target, directory)
            self._put(helper, directory, _staged_archive(files, pending))
        finally:
            with contextlib.suppress(Exception):
                self._api.remove_container(helper, v=True, force=True)

    def _mount_of(self, container_id: str, target: str) -> dict[str, Any]:
        try:
            mounts = self._api.inspect_container(container_id).get("Mounts") or []
        except Exception as exc:
            raise _engine_error(f"cannot inspect container {container_id[:12]}", exc) from None
        wanted = posixpath.normpath(target)
        for mount in mounts:
            if posixpath.normpath(mount.get("Destination", "")) == wanted and mount.get("Type") in ("volume", "bind"):
                return mount
        raise CertsEngineError(
            f"container {container_id[:12]} has no volume or bind mount at {target}",
            "it was created before its compose.yaml named that mount: darse up the service again",
        )

    def _remove_stale_helpers(self, container: ConsumerContainer) -> None:
        """Remove the helpers of this consumer left by a darse killed mid-write (older than STALE_HELPER
        seconds: a running sync's own is seconds old). Each holds the consumer's volume, which
        `docker compose down -v` could then not remove."""
        labels = [f"{HELPER_LABEL}={container.name}"]
        try:
            found = self._api.containers(all=True, filters={"label": labels, "status": "created"})
        except Exception:
            return  # a best effort: the write itself says what is wrong with the engine
        for raw in found:
            if time.time() - int(raw.get("Created") or 0) > STALE_HELPER:
                with contextlib.suppress(Exception):
                    self._api.remove_container(raw["Id"], v=True, force=True)

    def _create_helper(self, container: ConsumerContainer, mount: dict[str, Any]) -> str:
        from docker.types import Mount

        source = mount["Name"] if mount["Type"] == "volume" else mount["Source"]
        host_config = self._api.create_host_config(
            mounts=[Mount(mount["Destination"], source, type=mount["Type"], read_only=False)],
            network_mode="none",
        )
        try:
            created = self._api.create_container(
                container.image_id,
                command=["darse-certs-helper"],  # never run: the container is only a way into the volume
                entrypoint=[],
                host_config=host_config,
                labels={HELPER_LABEL: container.name},
                network_disabled=True,
            )
        except Exception as exc:
            raise _engine_error("cannot create the helper container that writes the files", exc) from None
        return created["Id"]

    def _ensure_folder(self, helper: str, mount_target: str, directory: str) -> None:
        """Create the folders from the mount's target down to `directory` that do not exist (root's,
        0755); existing ones are left exactly as they are. An existing one that is a link (planted in
        the volume) or not a folder is refused: the engine would follow the link inside the helper's
        own root, where the files would be lost and the consumer reloaded on every sync."""
        base = posixpath.normpath(mount_target)
        relative = posixpath.relpath(posixpath.normpath(directory), base)
        if relative == ".":
            return
        parts = relative.split("/")
        existing = 0
        for depth in range(1, len(parts) + 1):
            path = posixpath.join(base, *parts[:depth])
            kind = self._kind(helper, path)
            if kind is None:
                break
            if kind != "folder":
                raise CertsEngineError(
                    f"{path} in the consumer's volume is {kind}, not a folder: darse writes only into real folders",
                    f"remove it from the volume (docker exec CONTAINER rm {path}), then sync again",
                )
            existing = depth
        if existing == len(parts):
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for depth in range(existing + 1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[existing:depth]))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                archive.addfile(info)
        self._put(helper, posixpath.join(base, *parts[:existing]), buffer.getvalue())

    def _kind(self, container_id: str, path: str) -> str | None:
        """What `path` is in the container ("folder", "a link", "a file"; None when missing), from the
        engine's stat of it, which does not follow a link at the path itself."""
        import docker.errors

        try:
            stream, stat = self._api.get_archive(container_id, path, chunk_size=1024)
        except docker.errors.NotFound:
            return None
        except Exception as exc:
            raise _engine_error(f"cannot look at {path}", exc) from None
        with contextlib.suppress(Exception):
            stream.close()
        mode = int(stat.get("mode") or 0)
        if mode & _GO_MODE_SYMLINK or stat.get("linkTarget"):
            return "a link"
        return "folder" if mode & _GO_MODE_DIR else "a file"

    def _put(self, container_id: str, path: str, archive: bytes) -> None:
        try:
            self._api.put_archive(container_id, path, archive)
        except Exception as exc:
            raise _engine_error(f"cannot write into {path}", exc) from None

    # --- reloads ---------------------------------------------------------------------------------------

    def restart(self, container: ConsumerContainer) -> None:
        try:
            self._api.restart(container.id, timeout=stop_timeout(self._api, container.id, RESTART_TIMEOUT))
        except Exception as exc:
            raise _engine_error(f"cannot restart {container.name}", exc) from None

    def signal(self, container: ConsumerContainer, signal: str) -> None:
        try:
            self._api.kill(container.id, signal=signal)
        except Exception as exc:
            raise _engine_error(f"cannot send {signal} to {container.name}", exc) from None

    def run(self, container: ConsumerContainer, command: Sequence[str]) -> None:
        """Run a reload command inside the container; its failure is an error quoting the last line of
        its output, unless that line may hold key material (the command can read the key file)."""
        try:
            exec_id = self._api.exec_create(container.id, list(command), stdout=True, stderr=True)["Id"]
            output = self._exec_output(exec_id, command[0], container.name)
            code = self._api.exec_inspect(exec_id).get("ExitCode")
        except CertsEngineError:
            raise
        except Exception as exc:
            raise _engine_error(f"cannot run {command[0]!r} in {container.name}", exc) from None
        if code != 0:
            said = output.decode("utf-8", "replace").strip().splitlines()
            last = said[-1][:200] if said else ""
            if _may_hold_key(last):
                last = "(its last line withheld: it may hold key material)"
            raise CertsEngineError(
                f"the reload command {command[0]!r} exited with {code} in {container.name}"
                + (f": {last}" if last else ""),
                "check the darse.certs.reload label, or run the command by hand with docker exec",
            )


    def _exec_output(self, exec_id: str, program: str, container: str) -> bytes:
        """The end of a reload command's output, once it has ended; a CertsEngineError when it still
        runs after RELOAD_TIMEOUT (the engine's stream has no deadline of its own, and a command that
        never ends would hold every later sync, and the watcher, for ever)."""
        stream = self._api.exec_start(exec_id, stream=True, demux=False)
        tail = bytearray()
        failure: list[Exception] = []

        def pump() -> None:
            try:
                for chunk in stream:
                    tail.extend(chunk)
                    del tail[:-EXEC_OUTPUT_BYTES]  # the end only: a chatty command is not kept
            except Exception as exc:
                failure.append(exc)

        reader = threading.Thread(target=pump, name="darse-certs-reload", daemon=True)
        reader.start()
        reader.join(RELOAD_TIMEOUT)
        if reader.is_alive():
            with contextlib.suppress(Exception):
                stream.close()
            raise CertsEngineError(
                f"the reload command {program!r} still runs in {container} after {RELOAD_TIMEOUT:g} s",
                "a reload command must end (a reload, not the daemon itself): check the darse.certs.reload label",
            )
        if failure:
            raise failure[0]
        return bytes(tail)


def engine_host(url: str) -> str:
    """The host a published port of this engine is reached on: the machine of a `tcp://` or `ssh://`
    engine, this machine for a local socket."""
    from urllib.parse import urlsplit

    if url.startswith(("tcp://", "ssh://", "http://", "https://")):
        return urlsplit(url).hostname or "127.0.0.1"
    return "127.0.0.1"


def _staged_archive(files: Sequence[OwnedFile], pending: bytes | None = None) -> bytes:
    """A tar that writes each file into STAGING, then links it over its name (and STAGING/PENDING with
    `pending` when it is not None)."""
    now = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        folder = tarfile.TarInfo(STAGING)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o700, now
        archive.addfile(folder)
        for file in files:
            info = tarfile.TarInfo(f"{STAGING}/{file.name}")
            info.size, info.mode, info.uid, info.gid, info.mtime = len(file.data), file.mode, file.uid, file.gid, now
            archive.addfile(info, io.BytesIO(file.data))
        if pending is not None:
            marker = tarfile.TarInfo(f"{STAGING}/{PENDING}")
            marker.size, marker.mode, marker.mtime = len(pending), 0o600, now
            archive.addfile(marker, io.BytesIO(pending))
        for file in files:
            link = tarfile.TarInfo(file.name)
            link.type, link.linkname, link.mtime = tarfile.LNKTYPE, f"{STAGING}/{file.name}", now
            link.mode, link.uid, link.gid = file.mode, file.uid, file.gid
            archive.addfile(link)
    return buffer.getvalue()


_BLOB = re.compile(r"[A-Za-z0-9+/=]{40,}")  # a run of base64 as long as a PEM line: key material, maybe


def _may_hold_key(line: str) -> bool:
    """Whether a line a reload command printed could be part of a key (a PEM marker, or a long run of
    base64): such a line is never quoted in an error, whatever the command did with the key file."""
    return "PRIVATE KEY" in line.upper() or _BLOB.search(line) is not None


def _engine_error(what: str, exc: Exception) -> CertsEngineError:
    """One line from docker-py's error (its explanation only: it never holds a file's content)."""
    explanation = getattr(exc, "explanation", None) or str(exc)
    first = str(explanation).strip().splitlines()[0][:300] if str(explanation).strip() else type(exc).__name__
    hint = "is the engine reachable, and the service deployed? darse status shows it"
    return CertsEngineError(f"{what}: {first}", hint)
