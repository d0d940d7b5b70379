"""The read-only pages (placeholder: the fleet page's route name is `fleet`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route


async def fleet(request: Request) -> HTMLResponse:
    return HTMLResponse("darse")


def routes() -> list[Route]:
    return [Route("/", fleet, name="fleet")]
