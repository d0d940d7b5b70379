"""The images of the fleet as the dashboard shows them: what a service runs, `darse inspect`'s report of
one of those images, and what the private registry holds.

- `service_images(ctx, name)`: the images a service's containers run (one engine query for the
  project's containers, one image inspect per image), and those its Compose file names that the
  engine has but nothing runs yet. Only these may be inspected: the dashboard never reads an image a
  visitor names, only one the fleet uses (`ServiceImages.find`).
- `ImageReports`: the reports, computed in one worker thread (an image can take seconds to read; two
  at once on a small host would starve the pages) and kept by image ID. An ID is the digest of the
  image's configuration, which names its layers' digests: the same ID is the same content forever,
  so a kept report never goes stale. Each read is bounded in bytes and in time; a failed one is tried
  again only after `retry_after` seconds.
- `registry_view(start)`: the repositories and tags of darse.toml's `registry`, logged in as
  `darse registry ls` is (the environment or Docker's config); the login name is shown, never a password.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from darse import api, progress
from darse.errors import DarseError
from darse.masking import Masker, masker_for_compose
from darse.model.service import project_name

if TYPE_CHECKING:
    from darse.deploy.context import DeployContext
    from darse.engine.api import EngineAPI
    from darse.images.registry.client import RegistryClient

MAX_IMAGE_BYTES = 4 * 1000**3  # an export larger than this is not read for the dashboard (`darse inspect` can)
MAX_SECONDS = 300.0  # a read still going after this long is abandoned
MAX_REPORTS = 64  # reports kept (a report is a few hundred kB at most: lists are capped at MAX_ITEMS)
MAX_ITEMS = 200  # files listed per section of a report (its totals stay exact)
RETRY_AFTER = 60.0  # seconds before a failed report is computed again
MAX_REPOSITORIES = 200  # repositories listed on the registry page
MAX_DETAILED_TAGS = 300  # tags shown with digest, size and date; more are listed by name only
MAX_DIGESTS = 5  # repository digests shown per image (an image pushed to many registries has one each)


def size_text(value: int | None) -> str:
    """1234567 → "1.2 MB" (powers of 1000, as Docker and `darse inspect` print sizes); None → "-"."""
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"


# -- the images of a service --------------------------------------------------------------------


@dataclass
class ServiceImage:
    """One image the service uses: as Compose or the container names it, and what the engine knows."""

    reference: str  # `registry.example.org/wiki:2.5`, as written; the ID when nothing names it
    tag: str  # the tag of `reference` ("latest" when it has none; "" for an ID or a digest reference)
    image_id: str  # sha256:… (content-addressed), "" when the engine does not have the image
    digests: list[str] = field(default_factory=list)  # repository digests (pushed or pulled), at most MAX_DIGESTS
    digests_total: int = 0
    used_by: list[str] = field(default_factory=list)  # Compose services (and their containers)
    running: bool = False  # a container of the service runs it now
    aliases: list[str] = field(default_factory=list)  # the service's other names for the same image

    def named(self, reference: str) -> None:
        """The service also calls this image `reference` (two Compose services, two tags of one image)."""
        if reference.startswith("sha256:") or reference == self.reference or reference in self.aliases:
            return
        if self.reference.startswith("sha256:"):  # a container whose image lost its tag: a real name wins
            self.reference, self.tag = reference, tag_of(reference)
        else:
            self.aliases.append(reference)

    @property
    def short_id(self) -> str:
        return self.image_id.removeprefix("sha256:")[:12]


@dataclass
class ServiceImages:
    service: str
    target: str
    images: list[ServiceImage]
    error: str = ""  # the engine did not answer: the images of the Compose file, without IDs

    def find(self, image_id: str) -> ServiceImage | None:
        """The image of this service with that ID (full, or without `sha256:`), else None."""
        wanted = image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
        return next((image for image in self.images if image.image_id and image.image_id == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tag_of(reference: str) -> str:
    """`host:5000/wiki:2.5` → "2.5"; `wiki` → "latest"; a digest or an ID → ""."""
    if "@" in reference or reference.startswith("sha256:"):
        return ""
    last = reference.rpartition("/")[2]
    return last.partition(":")[2] if ":" in last else "latest"


def service_images(ctx: DeployContext, name: str) -> ServiceImages:
    """The images `name` runs (its containers on its target's engine) and references (its Compose file,
    when the engine has them). An unknown `name` is a DarseError (the page's 404)."""
    service = ctx.service(name)
    target = ctx.target_of(service).name
    written: list[tuple[str, str]] = []  # (Compose service, image as written)
    for compose_name, node in service.compose.services():
        image = node.get("image")
        if image is not None and image.text():
            written.append((compose_name, image.text() or ""))
    by_id: dict[str, ServiceImage] = {}
    unresolved: list[ServiceImage] = []
    try:
        engine = ctx.engine_for(service)
        for container in sorted(engine.containers(project=project_name(service.name)), key=lambda c: c.name):
            if not container.image_id:
                continue
            image = by_id.setdefault(
                container.image_id, ServiceImage(container.image, tag_of(container.image), container.image_id)
            )
            image.named(container.image)
            image.used_by.append(f"{container.compose_service} ({container.name})")
            image.running = image.running or container.running
        for compose_name, reference in written:
            image_id = engine.image_id(reference)
            if not image_id:
                unresolved.append(ServiceImage(reference, tag_of(reference), "", used_by=[compose_name]))
                continue
            image = by_id.setdefault(image_id, ServiceImage(reference, tag_of(reference), image_id))
            image.named(reference)
            if not any(use == compose_name or use.startswith(f"{compose_name} (") for use in image.used_by):
                image.used_by.append(compose_name)
        for image_id, digests in engine.image_facts(list(by_id)).items():
            image = by_id[image_id]
            image.digests, image.digests_total = _relevant(digests, [image.reference, *image.aliases]), len(digests)
    except DarseError as exc:
        images = [ServiceImage(ref, tag_of(ref), "", used_by=[compose]) for compose, ref in written]
        return ServiceImages(service.name, target, images, error=exc.one_line())
    return ServiceImages(service.name, target, [*by_id.values(), *unresolved])


def _relevant(digests: list[str], references: list[str]) -> list[str]:
    """At most MAX_DIGESTS repository digests, those of the repositories the service names first."""
    names = {ref.rpartition(":")[0] if ":" in ref.rpartition("/")[2] else ref for ref in references}
    ranked = sorted(digests, key=lambda digest: digest.partition("@")[0] not in names)
    return ranked[:MAX_DIGESTS]


# -- one image's report -----------------------------------------------------------------------------


@dataclass
class LayerRow:
    index: int
    size: int
    added: int
    modified: int
    removed: int
    wasted_bytes: int
    command: str  # the history's created_by: the Dockerfile instruction that made the layer
    verified: bool  # the content matched its digest


@dataclass
class ImageReport:
    """What a page shows of `darse inspect`'s document (`darse.inspect/1`, kept whole in `document`)."""

    image_id: str
    reference: str
    created: str
    age_days: float | None
    platform: str
    user: str
    runs_as_root: bool
    entrypoint: str
    cmd: str
    exposed_ports: list[str]
    env: list[dict[str, str]]  # values the report judged secret are already masked
    base_os: str  # "Debian GNU/Linux 12 (bookworm)", or "" when the image has no os-release
    eol: bool | None  # True: past its end of life; None: unknown
    eol_date: str
    layers: list[LayerRow]
    stored_bytes: int
    wasted_bytes: int
    wasted_percent: float
    efficiency: float
    wasted_files: list[dict[str, Any]]
    wasted_files_total: int
    removed_files: list[dict[str, Any]]
    removed_files_total: int
    findings: list[dict[str, Any]]
    findings_total: int
    warnings: list[str]
    document: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.document


def report_view(document: dict[str, Any]) -> ImageReport:
    """The page's view of an inspect document."""
    image, source, base, waste = document["image"], document["source"], document["base_os"], document["waste"]
    return ImageReport(
        image_id=image["id"],
        reference=source["reference"],
        created=image["created"] or "",
        age_days=image["age_days"],
        platform="/".join(p for p in (image["os"], image["architecture"], image["variant"]) if p),
        user=image["user"] or "",
        runs_as_root=bool(image["runs_as_root"]),
        entrypoint=" ".join(image["entrypoint"] or []),
        cmd=" ".join(image["cmd"] or []),
        exposed_ports=list(image["exposed_ports"]),
        env=list(image["env"]),
        base_os=(base["pretty_name"] or f"{base['name']} {base['version']}".strip()) if base else "",
        eol=base["eol"] if base else None,
        eol_date=(base["eol_date"] or "") if base else "",
        layers=[
            LayerRow(
                layer["index"],
                layer["size"],
                layer["added"],
                layer["modified"],
                layer["removed"],
                layer["wasted_bytes"],
                layer["created_by"] or "",
                bool(layer["verified"]),
            )
            for layer in document["layers"]
        ],
        stored_bytes=waste["stored_bytes"],
        wasted_bytes=waste["wasted_bytes"],
        wasted_percent=waste["wasted_percent"],
        efficiency=waste["efficiency"],
        wasted_files=list(waste["files"]),
        wasted_files_total=waste["files_total"],
        removed_files=list(document["removed_files"]["items"]),
        removed_files_total=document["removed_files"]["total"],
        findings=list(document["findings"]),
        findings_total=document["findings_total"],
        warnings=list(document["warnings"]),
        document=document,
    )


COMPUTING, READY, FAILED = "computing", "ready", "failed"


@dataclass
class ReportState:
    """Where one image's report is: being computed, ready (`report`), or failed (`error`, `hint`)."""

    image_id: str
    status: str = COMPUTING
    report: ImageReport | None = None
    error: str = ""
    hint: str = ""
    finished_at: float = 0.0  # time.monotonic() when it became ready or failed


Inspect = Callable[..., Any]  # `darse.api.inspect`'s signature: (image, *, max_items, listener, engine)


class ImageReports:
    """Reports by image ID, computed one at a time in a worker thread and kept (see the module).

    `request(image_id, engine)` returns at once: the report when kept, else the `computing` state (the
    page asks again). `wait(image_id, timeout)` is for tests and callers that can block. Thread-safe."""

    def __init__(
        self,
        inspect: Inspect | None = None,
        *,
        max_bytes: int = MAX_IMAGE_BYTES,
        max_seconds: float = MAX_SECONDS,
        max_reports: int = MAX_REPORTS,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self._inspect = inspect
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.max_reports, self.retry_after = max_reports, retry_after
        self._lock = threading.Lock()
        self._states: OrderedDict[str, ReportState] = OrderedDict()
        self._done: dict[str, threading.Event] = {}
        self._work: queue.SimpleQueue[tuple[ReportState, Callable[[], EngineAPI]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self.computed = 0  # reads started (the tests' probe: a kept report is never read again)

    def get(self, image_id: str) -> ReportState | None:
        with self._lock:
            return self._states.get(image_id)

    def request(self, image_id: str, engine: Callable[[], EngineAPI]) -> ReportState:
        """The state of `image_id`'s report, starting its computation (on `engine()`'s engine) if needed."""
        with self._lock:
            state = self._states.get(image_id)
            stale = state is not None and state.status == FAILED
            if stale and time.monotonic() - state.finished_at >= self.retry_after:
                state = None
            if state is not None:
                self._states.move_to_end(image_id)
                return state
            state = self._states[image_id] = ReportState(image_id)
            self._done[image_id] = threading.Event()
            self._forget_oldest()
            self.computed += 1
            if self._worker is None:  # a daemon: a read in progress never holds up the server's exit
                self._worker = threading.Thread(target=self._run, name="darse-inspect", daemon=True)
                self._worker.start()
        self._work.put((state, engine))
        return state

    def wait(self, image_id: str, timeout: float) -> ReportState | None:
        """The state once it is no longer computing (or after `timeout` seconds)."""
        with self._lock:
            done = self._done.get(image_id)
        if done is not None:
            done.wait(timeout)
        return self.get(image_id)

    def close(self) -> None:
        """End the worker once the reads asked for are done (each ends on its own bound)."""
        self._work.put(None)

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            self._compute(*item)

    def _forget_oldest(self) -> None:
        """Keep at most `max_reports` (those being computed are never dropped: a page waits for them)."""
        finished = [key for key, s in self._states.items() if s.status != COMPUTING]
        while len(self._states) > self.max_reports and finished:
            key = finished.pop(0)
            del self._states[key]
            self._done.pop(key, None)

    def _compute(self, state: ReportState, engine: Callable[[], EngineAPI]) -> None:
        inspect = self._inspect or api.inspect
        try:
            document = inspect(
                state.image_id, max_items=MAX_ITEMS, listener=self._bound(state.image_id), engine=engine()
            ).to_dict()
            report, error, hint = report_view(document), "", ""
        except DarseError as exc:
            report, error, hint = None, exc.message, exc.hint
        except Exception as exc:  # a broken image or engine: the page says so, the worker lives on
            report, error, hint = None, f"the image could not be read ({type(exc).__name__})", "try `darse inspect`"
        with self._lock:
            state.report, state.error, state.hint = report, error, hint
            state.status = READY if report is not None else FAILED
            state.finished_at = time.monotonic()
            done = self._done.get(state.image_id)
        if done is not None:
            done.set()

    def _bound(self, image_id: str) -> progress.Listener:
        """A listener that stops the read past `max_bytes` read or `max_seconds` spent."""
        started = time.monotonic()
        read = 0
        short = image_id.removeprefix("sha256:")[:12]

        def listener(event: progress.Event) -> None:
            nonlocal read
            read += event.advance
            if read > self.max_bytes or (event.total or 0) > self.max_bytes:
                raise DarseError(
                    f"image {short} is over {size_text(self.max_bytes)}: not read for the dashboard",
                    f"run `darse inspect {short}` on the host",
                )
            if time.monotonic() - started > self.max_seconds:
                raise DarseError(
                    f"reading image {short} took over {self.max_seconds:.0f} s: abandoned",
                    f"run `darse inspect {short}` on the host",
                )

        return listener


def image_report(
    ctx: DeployContext, name: str, image_id: str, reports: ImageReports
) -> tuple[ServiceImage, ReportState]:
    """The report of one image `name` uses, started if needed. An image the service does not use is a
    DarseError: nothing a visitor types makes the server read an image."""
    images = service_images(ctx, name)
    found = images.find(image_id)
    if found is None:
        raise DarseError(f"{images.service} uses no image {image_id[:80]!r}", "pick one of the service's images")
    service = ctx.service(name)
    state = reports.request(found.image_id, lambda: ctx.engine_for(service).api)
    return found, masked_state(state, masker_for_compose(*service.compose_paths))


def masked_state(state: ReportState, masker: Masker) -> ReportState:
    """`state` with the service's secret values masked in its report. A report is kept per image, for
    every service: the values of this service's secret files (a `--build-arg` recorded in a layer's
    command, an ENV baked in under a name that does not look secret) are hidden here, on each read."""
    if state.report is None:
        return state
    return replace(state, report=report_view(masker.data(state.report.document)))


# -- the private registry -----------------------------------------------------------------------------


@dataclass
class TagView:
    tag: str
    digest: str = ""
    size: int | None = None
    created: str = ""


@dataclass
class RepositoryView:
    name: str
    tags: list[TagView]
    error: str = ""  # this repository could not be listed


@dataclass
class RegistryView:
    configured: bool
    host: str = ""
    user: str = ""  # the login name used, "" for anonymous; never a password
    repositories: list[RepositoryView] = field(default_factory=list)
    repositories_total: int = 0
    details_cut: bool = False  # some tags are shown by name only (over MAX_DETAILED_TAGS)
    error: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registry_view(start: Path, open_client: Callable[[str], RegistryClient] | None = None) -> RegistryView:
    """darse.toml's `registry` and what it holds; no registry configured is a view that says so.
    `open_client(host)`: `darse.api.open_registry` unless given (tests)."""
    from darse.config import load_config
    from darse.model.repository import find_root

    host = load_config(find_root(start)).registry
    if not host:
        return RegistryView(False, hint='set registry = "HOST" in darse.toml (`darse registry init` scaffolds one)')
    view = RegistryView(True, host=host)
    try:
        client = open_client(host) if open_client else api.open_registry(host, start)
    except DarseError as exc:
        view.error, view.hint = exc.message, exc.hint
        return view
    with client:
        view.user = client.credentials.username if client.credentials else ""
        try:
            names = sorted(client.catalog())
        except DarseError as exc:
            view.error, view.hint = exc.message, exc.hint
            return view
        view.repositories_total = len(names)
        budget = MAX_DETAILED_TAGS
        for repository in names[:MAX_REPOSITORIES]:
            try:
                tags = sorted(client.tags(repository))
                if len(tags) <= budget:
                    rows = api.list_registry(client, repository, workers=4)
                    shown = [TagView(r.tag, r.digest, r.size, r.created) for r in rows]
                    budget -= len(tags)
                else:
                    shown = [TagView(tag) for tag in tags]
                    view.details_cut = True
            except DarseError as exc:
                view.repositories.append(RepositoryView(repository, [], exc.message))
                continue
            view.repositories.append(RepositoryView(repository, shown))
    return view
