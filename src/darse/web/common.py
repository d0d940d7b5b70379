"""What every page module of the dashboard does the same way: open the checkout, render a template,
keep one object per application, and answer with a Server-Sent Events stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from darse import api
from darse.errors import DarseError

T = TypeVar("T")


def open_context(request: Request) -> Any:
    """The checkout's `DeployContext`. `app.state.open_deployments`, when set, replaces
    `darse.api.open_deployments`: tests and benchmarks give an engine of their own that way."""
    opener = getattr(request.app.state, "open_deployments", None) or api.open_deployments
    return opener(request.app.state.settings.start)


def unknown_service(ctx: Any, name: str) -> DarseError | None:
    """None when `name` is a service of the checkout (by name or folder), else the library's error with its
    "did you mean" (its hint, not its message, goes to the page: the message names the checkout's path)."""
    if any(name in (service.name, service.path.name) for service in ctx.repository.services):
        return None
    try:
        ctx.service(name)
    except DarseError as exc:
        return exc
    return None


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def per_app(request: Request, attribute: str, make: Callable[[], T]) -> T:
    """The application's one `attribute` on `app.state`, made on first use (pages run on the event loop:
    no race between the check and the assignment)."""
    state = request.app.state
    found = getattr(state, attribute, None)
    if found is None:
        found = make()
        setattr(state, attribute, found)
    return found


def sse(event: str, data: str) -> str:
    """One Server-Sent Event; every line of `data` on a `data:` line of its own."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def sse_comment(text: str) -> str:
    """One Server-Sent Events comment line. CR and LF end an SSE line: a service folder may be named with
    them (`evil\\revent: lines\\rdata: <button hx-post=...>`), so they become spaces, or a name would write
    events of its own into the page."""
    return ": " + re.sub(r"[\r\n]+", " ", text) + "\n"


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    """`text/event-stream`, never cached nor buffered by a proxy in front."""
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def resume_index(request: Request) -> int:
    """The first message a stream sends: `?after=N`, or after the `Last-Event-ID` a reconnecting
    EventSource gives (whichever is later)."""
    after = _count(request.query_params.get("after"), 0)
    last_seen = request.headers.get("last-event-id")
    if last_seen is not None:
        after = max(after, _count(last_seen, -1) + 1)
    return after


def _count(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text is not None else default
    except ValueError:
        return default
