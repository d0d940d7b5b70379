"""A service's logs, live: `/services/{name}/logs` (route `logs`) and its event stream (route `logs_events`).

The page is for viewers. It holds a form (a text filter and how many past lines of each container to
show, sent as query parameters: the filter applies on the server, to lines already masked) and a list
that htmx's SSE extension fills from `/services/{name}/logs/events`: `lines` events, each a batch of
`<li>` appended at the end. The stream is one `darse.api.follow_logs` follower, closed as soon as the
visitor leaves (every engine connection with it). A page shows at most MAX_PAGE_LINES lines, then says
to reload: the browser's memory is bounded without a line of JavaScript (the CSP allows none inline).
A reconnecting EventSource (it sends `Last-Event-ID`) gets no past lines again, only new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from darse import api
from darse.dashboard.logs import DEFAULT_TAIL, MAX_FILTER, MAX_TAIL, LogLine, check_filter, check_tail
from darse.errors import DarseError
from darse.web import auth
from darse.web.common import event_stream, open_context, per_app, render, sse, sse_comment, unknown_service

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing a quiet stream
MAX_PAGE_LINES = 5000  # lines one page receives; then the stream ends and the page says to reload
BATCH = 200  # lines per event at most
MAX_STREAMS = 32  # logs pages followed at once by this process (each holds engine connections and threads)


def _known(request: Request, name: str) -> DarseError | None:
    return unknown_service(open_context(request), name)


async def logs(request: Request) -> Response:
    auth.require(request, "viewer")
    name = request.path_params["name"].strip("/")
    raw_filter = request.query_params.get("filter", "")
    raw_tail = request.query_params.get("tail", str(DEFAULT_TAIL))
    try:
        missing = await run_in_threadpool(_known, request, name)
    except DarseError as exc:  # no service at all, a broken darse.toml
        return render(request, "fleet.html", {"fleet": None, "problem": exc}, status_code=503)
    if missing is not None:
        return render(request, "not_found.html", {"name": name, "problem": missing}, status_code=404)
    context: dict[str, Any] = {
        "name": name,
        "filter": raw_filter[: MAX_FILTER * 2],
        "tail": raw_tail[:8],
        "max_tail": MAX_TAIL,
        "max_filter": MAX_FILTER,
        "problem": None,
        "stream_url": "",
    }
    try:
        text_filter, tail = check_filter(raw_filter), check_tail(raw_tail)
    except DarseError as exc:
        return render(request, "logs.html", {**context, "problem": exc}, status_code=400)
    query = urlencode({"filter": text_filter, "tail": tail})
    path = request.url_for("logs_events", name=quote(name, safe="/")).path
    return render(request, "logs.html", {**context, "filter": text_filter, "stream_url": f"{path}?{query}"})


def _followers(request: Request) -> set[Any]:
    """The followers of the open logs pages (on the event loop: no race); what `darse serve` and the tests see."""
    return per_app(request, "log_followers", set)


async def logs_events(request: Request) -> Response:
    """`text/event-stream`: `lines` events (a batch of `<li>` each) as the service writes them; a `done`
    event when the stream cannot go on (the page then stops listening); keep-alive comments meanwhile."""
    auth.require(request, "viewer")
    name = request.path_params["name"].strip("/")
    reconnecting = request.headers.get("last-event-id") is not None
    template = request.app.state.templates.get_template("_log_lines.html")
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def notify() -> None:  # a follower's thread: wake this loop
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(ready.set)

    def lines_html(lines: list[LogLine]) -> str:
        return template.render({"lines": lines})

    def start() -> Any:
        tail = 0 if reconnecting else request.query_params.get("tail")
        ctx = open_context(request)
        missing = unknown_service(ctx, name)
        if missing is not None:  # its hint only: the library's message names the checkout's path
            raise DarseError("no such service", missing.hint)
        return api.follow_logs(ctx, name, tail, request.query_params.get("filter", ""), notify)

    async def stream():
        yield sse_comment(f"logs of {name}") + "id: live\n\n"  # an id: a reconnecting EventSource says so
        followers = _followers(request)
        if len(followers) >= MAX_STREAMS:
            note = LogLine("", "", f"{MAX_STREAMS} logs pages are open already: close one, then reload", note=True)
            yield sse("lines", lines_html([note]))
            yield sse("done", "")
            return
        slot = object()  # the place is taken now, before the await: parallel requests cannot all pass the check
        followers.add(slot)
        try:
            follower = await run_in_threadpool(start)
        except DarseError as exc:
            note = LogLine("", "", exc.message + (f" ({exc.hint})" if exc.hint else ""), note=True)
            yield sse("lines", lines_html([note]))
            yield sse("done", "")
            return
        except Exception as exc:  # a bug: the page says so, the log has the type (a message may quote a value)
            log.error("following the logs of %s failed: %s", name, type(exc).__name__)
            note = LogLine("", "", "the logs cannot be followed (see the server's log)", note=True)
            yield sse("lines", lines_html([note]))
            yield sse("done", "")
            return
        finally:
            followers.discard(slot)
        followers.add(follower)
        sent = 0
        try:
            while True:
                ready.clear()  # before taking: a line after this take sets it again
                if not auth.still_signed_in(request):
                    yield sse("done", "")
                    return
                lines = follower.take(BATCH)
                if lines:
                    sent += len(lines)
                    yield sse("lines", lines_html(lines))
                    if sent >= MAX_PAGE_LINES:
                        note = LogLine("", "", f"{sent} lines shown: reload the page to follow on", note=True)
                        yield sse("lines", lines_html([note]))
                        yield sse("done", "")
                        return
                    continue
                try:
                    await asyncio.wait_for(ready.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            follower.close()  # the visitor left (or the page is full): every engine connection ends now
            followers.discard(follower)

    return event_stream(stream())


def routes() -> list[Route]:
    """Before the pages' routes: `/services/{name:path}` would also match `.../logs`."""
    return [
        Route("/services/{name:path}/logs/events", logs_events, name="logs_events"),
        Route("/services/{name:path}/logs", logs, name="logs"),
    ]
