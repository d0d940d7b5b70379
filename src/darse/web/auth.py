"""Sign-in, sessions, roles and CSRF (placeholder: the interface the pages and actions use).

Contract (implemented in full by the auth work):
- `routes()`: the sign-in and sign-out routes (`sign_in`, `sign_out`);
- `RequireSignIn`: ASGI middleware sending visitors without a session to the sign-in page;
- `current_user(request) -> User | None`, `require(request, role) -> User` (403 otherwise);
- `csrf_token(request) -> str` for forms and htmx, `check_csrf(request, form)` on every POST.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route


def routes() -> list[Route]:
    return []


class RequireSignIn:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def current_user(request: Any) -> Any:
    return None


def csrf_token(request: Any) -> str:
    return ""
