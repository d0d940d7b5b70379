"""The read-only pages: the fleet (`/`, route `fleet`) and one service (`/services/{name}`, route `service`).

Each page asks the library once (`darse.api.fleet`, `darse.api.service_view`) in a worker thread and
renders the view model; nothing is decided here. Every page is for a signed-in user with at least the
`viewer` role. The lint and secrets verdicts are kept in one `FleetCache` per application (on
`app.state`), so the fleet page costs one `darse status` once they are computed for the checkout.

`app.state.open_deployments`, when set, replaces `darse.api.open_deployments` (a callable from the
checkout folder to a `DeployContext`): tests and benchmarks give an engine of their own that way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from darse import api
from darse.dashboard.fleet import FleetCache
from darse.errors import DarseError
from darse.web import auth

STATE_WORDS = {
    "in-sync": "in sync",
    "drift": "drift",
    "degraded": "degraded",
    "not-deployed": "not deployed",
    "unknown": "unknown",
}


def _cache(request: Request) -> FleetCache:
    """The application's cache, made on first use (pages run on the event loop: no race here)."""
    state = request.app.state
    cache = getattr(state, "fleet_cache", None)
    if cache is None:
        cache = state.fleet_cache = FleetCache()
    return cache


def _open(request: Request) -> Any:
    opener = getattr(request.app.state, "open_deployments", None) or api.open_deployments
    return opener(request.app.state.settings.start)


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    templates = request.app.state.templates
    context = {"state_words": STATE_WORDS, "service_url": service_url, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def service_url(request: Request, name: str) -> str:
    """The page of a service; folder names may hold characters a URL path must escape."""
    return str(request.url_for("service", name=quote(name, safe="/")).path)


async def fleet(request: Request) -> Response:
    auth.require(request, "viewer")
    cache = _cache(request)

    def build() -> Any:
        return api.fleet(_open(request), cache)

    try:
        summary = await run_in_threadpool(build)
    except DarseError as exc:  # no service in the checkout, a broken darse.toml: the page says why
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    return _render(request, "fleet.html", {"fleet": summary, "problem": None})


async def service(request: Request) -> Response:
    auth.require(request, "viewer")
    name = request.path_params["name"].strip("/")
    cache = _cache(request)

    def build() -> Any:
        ctx = _open(request)
        known = {s.name for s in ctx.repository.services} | {s.path.name for s in ctx.repository.services}
        if name not in known:
            try:
                ctx.service(name)  # the library's message, with its "did you mean"
            except DarseError as exc:
                return exc
        return api.service_view(ctx, name, cache)

    try:
        view = await run_in_threadpool(build)
    except DarseError as exc:
        return _render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    if isinstance(view, DarseError):
        return _render(request, "not_found.html", {"name": name, "problem": view}, status_code=404)
    return _render(request, "service.html", {"view": view, "row": view.row})


def routes() -> list[Route]:
    return [
        Route("/", fleet, name="fleet"),
        Route("/services/{name:path}", service, name="service"),
    ]
