"""What every image source hands the analysis: the config bytes and the layers' indexes, bottom to top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from darse.images.inspect.layers import Entry, LayerIndex

Progress = Callable[[int], None]  # called with a count of bytes just read
Sink = Callable[[Entry, BinaryIO], None]


@dataclass
class LoadedImage:
    source: str  # engine | archive | oci | registry
    reference: str
    config_raw: bytes
    layers: list[LayerIndex]
    repo_tags: list[str] = field(default_factory=list)
    manifest_digest: str | None = None
    platform: str | None = None
    read: str | None = None  # for an engine's image: `store` (its overlay2 directories) or `export`


class ImageSource(Protocol):
    kind: str
    reference: str

    def total_bytes(self) -> int | None:
        """Bytes `load` will read, for a progress bar (None when unknown)."""

    def load(self, progress: Progress | None = None) -> LoadedImage:
        """Read the image once: config, manifest and every layer's index."""

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        """Read `layer` again and hand the bytes of its member `path` to `sink`; False if absent."""
