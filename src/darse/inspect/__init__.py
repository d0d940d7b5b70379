"""`darse inspect`: what an image really contains, layer by layer (see docs/inspect.md).

Public API: `open_source(reference, kind, platform)` gives an `ImageSource`; `source.load()` reads it
once into a `LoadedImage`; `analyse(loaded)` stacks the layers into an `Analysis` (waste, OS,
findings); `report.build(analysis)` is the stable JSON document.
"""

from darse.inspect.analysis import Analysis, analyse
from darse.inspect.sources import open_source

__all__ = ["Analysis", "analyse", "open_source"]
