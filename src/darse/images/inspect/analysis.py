"""From a loaded image (config + layer indexes) to everything the report shows: stack the layers,
compute the waste, read the OS, look for findings. Pure: no I/O, so tests can feed crafted layers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from darse.errors import DarseError
from darse.images.inspect.findings import Finding, find
from darse.images.inspect.layers import DIR, LayerIndex
from darse.images.inspect.osinfo import OS_RELEASE_PATHS, OsInfo, os_info
from darse.images.inspect.sources.base import LoadedImage
from darse.images.inspect.tree import DELETED, HIDDEN, FileTree, LayerChanges, Lost
from darse.images.inspect.waste import Waste, compute_waste


@dataclass
class LayerReport:
    index: int
    index_name: str
    diff_id: str
    verified: bool | None  # the tar's sha256 equals the config's diff_id (None: not recomputed)
    created_by: str
    size: int  # bytes of file data stored in the layer
    tar_size: int | None  # None: not read from a tar
    compressed_size: int | None
    entries: int
    changes: LayerChanges
    wasted_bytes: int
    refused: list[str]


@dataclass
class Analysis:
    image: LoadedImage
    config: dict
    image_id: str
    created: dt.datetime | None
    layers: list[LayerReport]
    waste: Waste
    os: OsInfo | None
    removed: list[Lost]  # deleted or hidden by a later layer, still readable in their own layer
    findings: list[Finding]
    tree: FileTree
    warnings: list[str] = field(default_factory=list)

    @property
    def settings(self) -> dict:
        value = self.config.get("config") or {}
        return value if isinstance(value, dict) else {}

    @property
    def user(self) -> str:
        return str(self.settings.get("User") or "")

    @property
    def runs_as_root(self) -> bool:
        name = self.user.split(":", 1)[0]
        return name in ("", "0", "root")

    def age_days(self, now: dt.datetime | None = None) -> float | None:
        if self.created is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (now - self.created).total_seconds() / 86400


def parse_created(value: object) -> dt.datetime | None:
    """RFC 3339 with nanoseconds (`2024-05-01T10:00:00.123456789Z`); None when absent or malformed."""
    if not isinstance(value, str) or len(value) < 19:
        return None
    text = value.strip().replace("Z", "+00:00")
    date, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{date}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        created = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)


def analyse(image: LoadedImage, today: dt.date | None = None) -> Analysis:
    config = load_config(image.config_raw)
    warnings: list[str] = []
    diff_ids = config["rootfs"]["diff_ids"] if "rootfs" in config else []
    if len(diff_ids) != len(image.layers):
        warnings.append(f"the config lists {len(diff_ids)} layers but the manifest {len(image.layers)}")
    commands = _commands(config, len(image.layers))
    tree = FileTree()
    changes = [tree.apply(number, layer) for number, layer in enumerate(image.layers)]
    waste = compute_waste(image.layers, tree)
    reports = []
    for number, layer in enumerate(image.layers):
        expected = diff_ids[number] if number < len(diff_ids) else None
        verified = expected == layer.diff_id if layer.hashed else None  # None: the engine's word, not rechecked
        if verified is False:
            warnings.append(f"layer {number}: its content hashes to {layer.diff_id}, the config says {expected!s:.80}")
        if layer.refused:
            warnings.append(f"layer {number}: {len(layer.refused)} member(s) with paths outside the root were ignored")
        reports.append(
            LayerReport(
                index=number,
                index_name=layer.name,
                diff_id=layer.diff_id,
                verified=verified,
                created_by=commands[number],
                size=layer.content_bytes,
                tar_size=layer.tar_size,
                compressed_size=layer.compressed_size,
                entries=len(layer.entries) + len(layer.whiteouts) + len(layer.opaque),
                changes=changes[number],
                wasted_bytes=waste.per_layer[number],
                refused=layer.refused,
            )
        )
    removed = [item for item in tree.lost if item.how in (DELETED, HIDDEN) and item.entry.kind != DIR]
    removed.sort(key=lambda item: (item.entry.path, item.layer))
    return Analysis(
        image=image,
        config=config,
        image_id="sha256:" + hashlib.sha256(image.config_raw).hexdigest(),
        created=parse_created(config.get("created")),
        layers=reports,
        waste=waste,
        os=os_info(_os_release(image.layers, tree), today),
        removed=removed,
        findings=find(image.layers, tree),
        tree=tree,
        warnings=warnings,
    )


# The config fields darse reads, with the JSON types the OCI image spec gives them: a config whose
# fields have other types is refused in one line rather than half-read.
_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "rootfs": dict,
    "history": list,
    "config": dict,
    "created": str,
    "os": str,
    "architecture": str,
    "variant": str,
}
_SETTINGS_TYPES: dict[str, type | tuple[type, ...]] = {
    "User": str,
    "Entrypoint": (list, str),
    "Cmd": (list, str),
    "WorkingDir": str,
    "ExposedPorts": dict,
    "Env": list,
    "Labels": dict,
}


def load_config(raw: bytes) -> dict:
    """The image config, parsed and its fields' types checked (a hostile image may send anything)."""
    try:
        config = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DarseError("the image config is not valid JSON", "the image is corrupt") from None
    except RecursionError:
        raise DarseError("the image config is nested too deeply", "the image is corrupt or hostile") from None
    if not isinstance(config, dict):
        raise DarseError("the image config is not a JSON object", "the image is corrupt")
    _check_types(config, _CONFIG_TYPES, "")
    _check_types(config.get("config") or {}, _SETTINGS_TYPES, "config.")
    rootfs = config.get("rootfs")
    if rootfs is not None:
        diff_ids = rootfs.get("diff_ids")
        if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
            raise DarseError("the image config: rootfs.diff_ids is not a list of digests", "the image is corrupt")
    return config


def _check_types(document: dict, types: dict[str, type | tuple[type, ...]], prefix: str) -> None:
    for key, expected in types.items():
        value = document.get(key)
        if value is not None and not isinstance(value, expected):
            raise DarseError(
                f"the image config: {prefix}{key} is {_json_type(value)}, not {_json_type(expected)}",
                "the image is corrupt or not an image",
            )


def _json_type(value: object) -> str:
    kinds = value if isinstance(value, tuple) else (value if isinstance(value, type) else type(value),)
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)  # type: ignore[union-attr]


def _commands(config: dict, count: int) -> list[str]:
    """The `created_by` of each non-empty history entry, matched to the layers in order."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    commands = [_clean(str(h.get("created_by") or "")) for h in history]
    if len(commands) != count:  # history rewritten or absent: do not guess which command made which layer
        commands = commands[-count:] if len(commands) > count else [""] * (count - len(commands)) + commands
    return commands


def _clean(command: str) -> str:
    """`/bin/sh -c #(nop)  COPY file:... in /` -> `COPY file:... in /`; `/bin/sh -c cmd` -> `RUN cmd`."""
    text = command.strip()
    if text.startswith("/bin/sh -c #(nop)"):
        return text[len("/bin/sh -c #(nop)") :].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c ") :]
    return text


def _os_release(layers: list[LayerIndex], tree: FileTree) -> str | None:
    for path in OS_RELEASE_PATHS:
        found = tree.resolve(path)
        if found is None:
            continue
        real, node = found
        if node.entry is None or node.layer < 0:
            continue
        data = layers[node.layer].captured.get(real)
        if data is not None:
            return data.decode("utf-8", "replace")
    return None
