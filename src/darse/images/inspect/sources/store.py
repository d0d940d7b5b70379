"""An image of the local engine read from the engine's overlay2 layer store (`darse.engine.layer_store`)
instead of its export: the same layer indexes, built by the same code (`layers.index_records`) from
what a walk of the layer directories yields, so the analysis and the report cannot tell the two apart
except where the report says so: `source.read` is `store`, each layer's `verified` is null (the
engine checked the digests when it stored the layers; darse does not hash them again) and
`tar_size` is null (no tar is made)."""

from __future__ import annotations

from darse.engine.api import APIError, NotFound
from darse.engine.layer_store import LayerWalk, StoreChanged, StoreImage, StoreUnavailable, check_unchanged, locate
from darse.engine.local import LocalEngine
from darse.errors import DarseError
from darse.images.inspect.layers import LayerIndex, index_records
from darse.images.inspect.sources.base import LoadedImage, Progress, Sink

__all__ = ["StoreSource", "StoreUnavailable"]


def _changed(exc: BaseException) -> DarseError:
    return DarseError(str(exc), "read it again once the engine is done with it")


class StoreSource:
    kind = "engine"

    def __init__(self, name: str, api: LocalEngine) -> None:
        """Locate the image's layers now: `StoreUnavailable` says why the store cannot serve (the caller
        reads the export instead), a missing image is the usual one-line error."""
        self.reference = name
        self._api = api
        try:
            self._image: StoreImage = locate(api, name)
        except NotFound:
            raise DarseError(
                f"no image {name!r} in the local engine",
                "check `docker images`, or give an archive path or a registry reference",
            ) from None
        except APIError as exc:
            raise DarseError(
                f"the engine cannot inspect {name!r} ({exc.explanation})", "check the image name"
            ) from None
        except OSError as exc:
            raise StoreUnavailable(f"the engine does not answer ({type(exc).__name__})") from None

    def total_bytes(self) -> int | None:
        return self._image.size or None

    def load(self, progress: Progress | None = None) -> LoadedImage:
        image = self._image
        layers = []
        try:
            for number, path in enumerate(image.layer_dirs):
                walk = LayerWalk(path)
                layer = index_records(walk, walk, path)
                layer.diff_id, layer.hashed, layer.tar_size = image.diff_ids[number], False, None
                layers.append(layer)
                if progress:
                    progress(walk.files)
            check_unchanged(self._api, image)
        except StoreChanged as exc:
            raise _changed(exc) from None
        except StoreUnavailable as exc:
            raise DarseError(
                f"cannot read {self.reference!r} from the layer store: {exc.reason}", "use --read export"
            ) from None
        except OSError as exc:
            raise DarseError(
                f"cannot read {self.reference!r} from the layer store ({exc.strerror or type(exc).__name__})",
                "use --read export",
            ) from None
        tags = _tags_named(image.repo_tags, self.reference)
        digest = image.repo_digests[0].rpartition("@")[2] if image.repo_digests else None
        return LoadedImage("engine", self.reference, image.config_raw, layers, tags, digest, None, "store")

    def read_member(self, layer: LayerIndex, path: str, sink: Sink, progress: Progress | None = None) -> bool:
        """The file's bytes straight from its layer directory, opened one component at a time without
        following a link (`layer_store.open_file`); only a regular file is ever opened."""
        from darse.engine.layer_store import open_file

        entry = layer.entries.get(path)
        if entry is None:
            return False
        try:
            handle = open_file(layer.name, path)
        except FileNotFoundError:
            raise _changed(StoreChanged(f"/{path} vanished from its layer while it was read")) from None
        except OSError:
            return False  # a link or a special file on the way: nothing is read
        with handle:
            sink(entry, handle)
        try:
            check_unchanged(self._api, self._image)
        except StoreChanged as exc:
            raise _changed(exc) from None
        return True

    def close(self) -> None:
        self._api.close()


def _tags_named(tags: list[str], reference: str) -> list[str]:
    """The tags the export's manifest would list: the one the reference names (`docker save NAME`
    lists only that), none for an ID."""
    wanted = reference if ":" in reference.rpartition("/")[2] else reference + ":latest"
    return [tag for tag in tags if tag == wanted or tag.endswith("/" + wanted)]
