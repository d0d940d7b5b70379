"""Wasted bytes, exactly: what squashing the image into one layer would recover.

Every regular file stored in a layer is one copy of some bytes (a "blob"; hard links in the same layer
share their target's blob). A blob is kept when at least one of its names is visible in the final
filesystem; every other blob is waste: it was deleted, overwritten, or hidden under an opaque directory
by a later layer, including everything inside a deleted directory. The kept copy never counts, so an
image whose every file is visible has zero waste whatever its layers did.

    wasted = sum of the sizes of all stored blobs - sum of the sizes of the visible blobs
    efficiency = 1 - wasted / stored   (1.0 for an image that stores no file bytes)

Dive differs on three points (see docs/inspect.md): it ignores deleted directories, drops opaque
whiteouts, and adds the kept copy of a file to its waste (dive issue #684).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from darse.images.inspect.layers import FILE, HARDLINK, LayerIndex
from darse.images.inspect.tree import FileTree, Lost


@dataclass
class WastedFile:
    path: str
    layer: int
    size: int
    how: str
    by_layer: int


@dataclass
class Waste:
    stored_bytes: int
    wasted_bytes: int
    per_layer: list[int]  # wasted bytes stored in each layer
    files: list[WastedFile] = field(default_factory=list)  # biggest first

    @property
    def efficiency(self) -> float:
        return 1.0 if not self.stored_bytes else 1.0 - self.wasted_bytes / self.stored_bytes

    @property
    def wasted_percent(self) -> float:
        return 0.0 if not self.stored_bytes else 100.0 * self.wasted_bytes / self.stored_bytes


def _blob_of(layers: list[LayerIndex], layer: int, path: str, kind: str) -> str | None:
    """The path of the regular file holding the bytes of `path` in `layer`, or None."""
    if kind == FILE:
        return path
    if kind == HARDLINK:
        entries = layers[layer].entries
        seen = 0
        while seen < 40:
            entry = entries.get(path)
            if entry is None:
                return None
            if entry.kind == FILE:
                return path
            if entry.kind != HARDLINK or not entry.link:
                return None
            path, seen = entry.link, seen + 1
    return None


def compute_waste(layers: list[LayerIndex], tree: FileTree) -> Waste:
    visible: set[tuple[int, str]] = set()
    for node in tree.nodes():  # a set: the order does not matter
        entry = node.entry
        if entry is not None and entry.kind in (FILE, HARDLINK):
            blob = _blob_of(layers, node.layer, entry.path, entry.kind)
            if blob is not None:
                visible.add((node.layer, blob))
    stored = 0
    per_layer = [0] * len(layers)
    for number, layer in enumerate(layers):
        stored += layer.duplicate_bytes
        per_layer[number] += layer.duplicate_bytes
        for entry in layer.entries.values():
            if entry.kind == FILE and entry.size:
                stored += entry.size
                if (number, entry.path) not in visible:
                    per_layer[number] += entry.size
    files = _wasted_files(layers, tree.lost, visible)
    return Waste(stored, sum(per_layer), per_layer, files)


def _wasted_files(layers: list[LayerIndex], lost: list[Lost], visible: set[tuple[int, str]]) -> list[WastedFile]:
    out: list[WastedFile] = []
    counted: set[tuple[int, str]] = set()
    for item in lost:
        entry = item.entry
        if entry.kind != FILE or not entry.size:
            continue
        key = (item.layer, entry.path)
        if key in visible or key in counted:
            continue
        counted.add(key)
        out.append(WastedFile(entry.path, item.layer, entry.size, item.how, item.by_layer))
    out.sort(key=lambda f: (-f.size, f.path, f.layer))
    return out
