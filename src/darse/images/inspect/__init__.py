"""`darse inspect`: what an image really contains, layer by layer (see docs/inspect.md).

Public API: `open_source(reference, kind, platform)` gives an `ImageSource`; `source.load()` reads it
once into a `LoadedImage`; `analyse(loaded)` stacks the layers into an `Analysis` (waste, OS,
findings); `report.build(analysis)` is the stable JSON document.

Names are imported on first use: `open_source` on the engine sends the export request, and it should
go out before the analysis code is even imported (the engine needs seconds before its first byte).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Analysis": "darse.images.inspect.analysis",
    "analyse": "darse.images.inspect.analysis",
    "open_source": "darse.images.inspect.sources",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
