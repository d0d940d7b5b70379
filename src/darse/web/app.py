"""The dashboard's application: settings, middleware (sessions, sign-in), routes, templates."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from darse.web.security import AllowedHosts, LimitBody, SecurityHeaders

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "darse_session"


@dataclass(frozen=True)
class ServeSettings:
    """What one dashboard serves and how it trusts its visitors."""

    start: Path  # a folder of the checkout the dashboard shows (its repository is found from here)
    users_file: Path  # bcrypt hashes and roles (`darse serve user add`)
    secret_key: str = ""  # signs the session cookies; random per process when empty (sessions end on restart)
    secure_cookies: bool = False  # behind HTTPS: cookies only over TLS
    idle_hours: float = 12.0  # a session unused this long ends
    trusted_proxy: str | None = None  # the only address whose X-Forwarded-* headers are believed
    allowed_hosts: tuple[str, ...] = ()  # Host header names served (DNS rebinding); empty: any (the CLI sets them)


def code_spans(text: object) -> Markup:
    """A hint as HTML: the library writes commands between backticks for a terminal; a page shows them as
    `<code>`. The text is escaped first: nothing of it becomes markup but those spans."""
    return Markup(re.sub(r"`([^`\n]+)`", r"<code>\1</code>", str(escape(str(text)))))


def create_app(settings: ServeSettings) -> Starlette:
    """The ASGI application for `settings` (uvicorn serves it; tests drive it with a client or a browser)."""
    from darse.web import actions, auth, checkout, images, logs, pages, swarm

    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["csrf_token"] = auth.csrf_token
    templates.env.globals["current_user"] = auth.current_user
    templates.env.filters["code"] = code_spans
    middleware = [
        Middleware(SecurityHeaders),  # outermost: every answer, errors and redirects included
        Middleware(AllowedHosts, names=settings.allowed_hosts),
        Middleware(LimitBody),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key or secrets.token_urlsafe(32),
            session_cookie=SESSION_COOKIE,
            max_age=int(settings.idle_hours * 3600),  # set again on every answer: an idle expiry
            same_site="strict",
            https_only=settings.secure_cookies,
        ),
        Middleware(auth.RequireSignIn),
    ]
    routes = [
        *auth.routes(),
        *checkout.routes(),
        *actions.routes(),  # before the pages: `/services/{name:path}` would also match `.../deploy`
        *images.routes(),  # before the pages, for the same reason (`.../images`)
        *logs.routes(),  # the same: `.../logs`
        *swarm.routes(),  # its `/services/{name:path}/scale` too
        *pages.routes(),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.settings = settings
    app.state.templates = templates
    return app
