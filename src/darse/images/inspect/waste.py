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
from darse.images.inspect.tree import FileTree


@dataclass(slots=True)
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


def _blob_of(layers: list[LayerIndex], layer: int, path: str) -> str | None:
    """The path of the regular file holding the bytes of the hard link `path` in `layer`, or None."""
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
    """Every stored file is either visible in the final tree or in `tree.lost`, never both: the waste is
    what was lost, less the blobs a visible hard link still shows, plus the same layer's overwritten
    duplicates. Linear in the lost files (the visible ones are not walked)."""
    kept = _blobs_kept_by_links(layers, tree)
    per_layer = [layer.duplicate_bytes for layer in layers]
    files: list[WastedFile] = []
    for item in tree.lost:
        entry = item.entry
        if entry.kind != FILE or not entry.size or (item.layer, entry.path) in kept:
            continue
        per_layer[item.layer] += entry.size
        files.append(WastedFile(entry.path, item.layer, entry.size, item.how, item.by_layer))
    files.sort(key=_biggest_first)
    stored = sum(layer.content_bytes for layer in layers)
    return Waste(stored, sum(per_layer), per_layer, files)


def _blobs_kept_by_links(layers: list[LayerIndex], tree: FileTree) -> set[tuple[int, str]]:
    """(layer, path) of the files whose bytes a visible hard link shows, whatever became of their name."""
    kept: set[tuple[int, str]] = set()
    for number, layer in enumerate(layers):
        for entry in [e for e in layer.entries.values() if e.kind == HARDLINK]:
            node = tree.lookup(entry.path)
            if node is not None and node.entry is entry:
                blob = _blob_of(layers, number, entry.path)
                if blob is not None:
                    kept.add((number, blob))
    return kept


def _biggest_first(wasted: WastedFile) -> tuple[int, str, int]:
    return (-wasted.size, wasted.path, wasted.layer)
