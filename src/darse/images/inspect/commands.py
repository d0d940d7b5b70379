"""`darse inspect`'s three uses as library calls: the report (with CI thresholds), one file back, a listing.

Each opens the source first (the engine starts its export while the rest is imported), reads the image
once reporting `reading REF` events with bytes as `advance` and the size as `total` when known, then
returns plain results. Nothing here draws: the CLI (or a web page) renders what comes back.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from darse import progress

if TYPE_CHECKING:
    from darse.engine.api import EngineAPI
    from darse.images.inspect.analysis import Analysis
    from darse.images.inspect.ci import Thresholds, Violation
    from darse.images.inspect.extract import Extracted
    from darse.images.inspect.sources.base import ImageSource


@dataclass
class InspectReport:
    """The JSON document (`darse.inspect/1`) and the CI thresholds it crossed (none when not checked)."""

    document: dict[str, Any]
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return self.document

    def to_sarif(self) -> dict[str, Any]:
        from darse.images.inspect.sarif import render_sarif

        return render_sarif(self.document)


def thresholds(start: Path, flags: dict[str, Any]) -> Thresholds:
    """The nearest darse.toml's [inspect] (from `start` up), overridden by the flags given (None: not given)."""
    from darse.config import CONFIG_NAME, load_config
    from darse.images.inspect.ci import from_config, parse_size

    table = None
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            table = load_config(folder).inspect
            break
    flags = dict(flags)
    if flags.get("highest_wasted_bytes") is not None:
        flags["highest_wasted_bytes"] = parse_size(flags["highest_wasted_bytes"])
    return from_config(table, f"{CONFIG_NAME} [inspect]").merged(**flags)


def _read(source: ImageSource, listener: progress.Listener) -> Analysis:
    """Read the image once and analyse it, reporting the bytes read."""
    from darse.images.inspect.analysis import analyse

    task = f"reading {source.reference}"
    total = source.total_bytes()
    listener(progress.Event(task, total=total))
    with _collector_paused():
        loaded = source.load(lambda count: listener(progress.Event(task, advance=count, total=total)))
        listener(progress.Event(task, total=total, done=True))
        return analyse(loaded)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while an image is indexed: the index and the file tree are hundreds
    of thousands of small objects without reference cycles, and the collector's repeated passes over
    them cost about a third of the time on an image of 200,000 files. Nothing is leaked: objects are
    freed by reference counting, and the collector runs again afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _open(
    image: str, source: str, platform: str | None, engine: EngineAPI | None = None, read: str = "auto"
) -> ImageSource:
    if engine is not None:  # a given engine (a target's, for the dashboard): the image is read from it
        from darse.images.inspect.sources.engine import EngineSource

        return EngineSource(image, engine)
    from darse.images.inspect.sources import open_source

    return open_source(image, source, platform, read)


def inspect_report(
    image: str,
    *,
    source: str = "auto",
    platform: str | None = None,
    read: str = "auto",
    max_items: int = 1000,
    thresholds: Thresholds | None = None,
    listener: progress.Listener = progress.ignore,
    engine: EngineAPI | None = None,
) -> InspectReport:
    """What `image` really contains; with `thresholds`, the document gains its `ci` section. `engine`:
    read the image from that engine's export (not the environment's), whatever `source` says. `read`:
    how an image of the local engine is read (`store`, `export`, or `auto`: the store when it can)."""
    opened = _open(image, source, platform, engine, read)
    from darse.images.inspect.report import build

    analysis = _read(opened, listener)
    document = build(analysis, max_items)
    violations: list[Violation] = []
    if thresholds is not None:
        from darse.images.inspect.ci import ci_section, evaluate

        violations = evaluate(analysis, thresholds)
        document["ci"] = ci_section(thresholds, violations)
    return InspectReport(document, violations)


def extract_file(
    image: str,
    path: str,
    output: Path,
    *,
    source: str = "auto",
    platform: str | None = None,
    read: str = "auto",
    layer: int | None = None,
    force: bool = False,
    max_bytes: int | None = None,
    listener: progress.Listener = progress.ignore,
) -> Extracted:
    """Write the file `path` of the image (of `layer`, else the one visible) to `output`, atomically."""
    opened = _open(image, source, platform, read=read)
    from darse.images.inspect.extract import DEFAULT_MAX_BYTES, extract

    analysis = _read(opened, listener)
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    return extract(opened, analysis, path, layer, output, force, limit)


def list_files(
    image: str,
    under: str | None = None,
    *,
    source: str = "auto",
    platform: str | None = None,
    read: str = "auto",
    layer: int | None = None,
    listener: progress.Listener = progress.ignore,
) -> list[dict]:
    """The files of `layer` (else the final ones) under `under`, sorted by path."""
    opened = _open(image, source, platform, read=read)
    from darse.images.inspect.extract import listing

    return listing(_read(opened, listener), layer, under)
