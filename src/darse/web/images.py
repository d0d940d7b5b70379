"""The image pages: what a service runs (`/services/{name}/images`, route `service_images`), the inspect
report of one of those images (`/services/{name}/images/{image_id}`, route `service_image`, its report
filled in by htmx from route `service_image_report` while it is computed), and the private registry's
repositories and tags (`/registry`, route `registry`). For signed-in viewers; nothing here acts.

An image is read only when the service uses it (the library checks the ID against the service's
containers and Compose file): a visitor cannot make the server pull or read an image of their choice.
Reports are kept in one `ImageReports` per application (`app.state.image_reports`): computed once per
image ID, in a worker thread, whoever asks. `app.state.open_registry`, when set, replaces
`darse.api.open_registry` (tests).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from darse import api
from darse.dashboard.images import COMPUTING, ImageReports, size_text
from darse.errors import DarseError
from darse.web import auth
from darse.web.common import open_context, per_app, render, unknown_service
from darse.web.pages import STATE_WORDS, service_url

WAIT_SECONDS = 10.0  # how long the report fragment waits for a computing report before answering "still computing"


def _reports(request: Request) -> ImageReports:
    """The application's reports, made on first use (on the event loop: no race)."""
    return per_app(request, "image_reports", ImageReports)


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    context = {"state_words": STATE_WORDS, "service_url": service_url, "size": size_text, **context}
    return render(request, name, context, status_code)


def _name(request: Request) -> str:
    return request.path_params["name"].strip("/")


def _not_found(request: Request, name: str, problem: DarseError) -> Response:
    """No such service (the fleet's 404: the hint only, its message names the checkout's path)."""
    return _render(request, "not_found.html", {"name": name, "problem": problem}, status_code=404)


def _no_such_image(request: Request, name: str) -> Response:
    """An image the service does not use: a 404 that does not echo what was asked."""
    return _render(request, "image_not_found.html", {"name": name}, status_code=404)


async def service_images(request: Request) -> Response:
    auth.require(request, "viewer")
    name = _name(request)

    def build() -> Any:
        ctx = open_context(request)
        return unknown_service(ctx, name) or api.service_images(ctx, name)

    try:
        view = await run_in_threadpool(build)
    except DarseError as exc:
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    if isinstance(view, DarseError):
        return _not_found(request, name, view)
    reports = _reports(request)
    states = {image.image_id: reports.get(image.image_id) for image in view.images if image.image_id}
    return _render(request, "service_images.html", {"view": view, "states": states})


async def _report(request: Request) -> tuple[Any, Any] | Response:
    """(image, state) of the image the path names, its report started; a 404 for anything else."""
    auth.require(request, "viewer")
    name, image_id = _name(request), request.path_params["image_id"]
    reports = _reports(request)

    def build() -> Any:
        ctx = open_context(request)
        unknown = unknown_service(ctx, name)
        if unknown is not None:
            return unknown
        try:
            return api.service_image_report(ctx, name, image_id, reports)
        except DarseError:  # not an image of the service: never read
            return None

    try:
        found = await run_in_threadpool(build)
    except DarseError as exc:
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    if isinstance(found, DarseError):
        return _not_found(request, name, found)
    if found is None:
        return _no_such_image(request, name)
    return found


async def service_image(request: Request) -> Response:
    found = await _report(request)
    if isinstance(found, Response):
        return found
    image, state = found
    return _render(request, "image.html", {"name": _name(request), "image": image, "state": state})


async def service_image_report(request: Request) -> Response:
    """The report as a fragment: waits up to WAIT_SECONDS for it, else answers "still computing" (which
    asks again when htmx loads it)."""
    found = await _report(request)
    if isinstance(found, Response):
        return found
    image, state = found
    if state.status == COMPUTING:
        await run_in_threadpool(_reports(request).wait, image.image_id, WAIT_SECONDS)
        found = await _report(request)  # read again through the library: the report masked for this service
        if isinstance(found, Response):
            return found
        image, state = found
    return _render(request, "_image_report.html", {"name": _name(request), "image": image, "state": state})


async def registry(request: Request) -> Response:
    auth.require(request, "viewer")
    opener = getattr(request.app.state, "open_registry", None)

    def build() -> Any:
        return api.registry_view(request.app.state.settings.start, opener)

    # One read of the registry at a time: a visitor asking while it runs gets that read's answer. Each read
    # is hundreds of requests (every repository, every tag's manifest): reloads by the dozen must neither
    # hammer the registry nor take every worker thread of the server while it answers slowly.
    flight = per_app(request, "registry_flight", dict)
    task = flight.get("task")
    if task is None or task.done():
        task = flight["task"] = asyncio.ensure_future(run_in_threadpool(build))
    try:
        view = await asyncio.shield(task)
    except DarseError as exc:  # no repository around the checkout, a broken darse.toml
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    return _render(request, "registry.html", {"view": view})


def routes() -> list[Route]:
    """Before the pages' routes: `/services/{name:path}` would also match these paths."""
    return [
        Route("/registry", registry, name="registry"),
        Route("/services/{name:path}/images/{image_id}/report", service_image_report, name="service_image_report"),
        Route("/services/{name:path}/images/{image_id}", service_image, name="service_image"),
        Route("/services/{name:path}/images", service_images, name="service_images"),
    ]
