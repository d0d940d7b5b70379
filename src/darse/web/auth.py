"""Sign-in, sessions, roles and CSRF: whoever signs in as an operator controls the Docker engine.

Contract (the pages and actions code against it):
- `routes()`: GET/POST `/sign-in` (`sign_in`), POST `/sign-out` (`sign_out`);
- `RequireSignIn`: ASGI middleware; every path but `/sign-in` and `/static/...` needs a signed-in user
  (an HTML GET is sent to `/sign-in?next=...`, anything else gets 401);
- `current_user(request) -> User | None`, `require(request, role) -> User` (401 signed out, 403 when the
  role is not enough: `operator` can do what a `viewer` can);
- `csrf_token(request) -> str` for forms and htmx (base.html sends it as `X-CSRF-Token`), and
  `await check_csrf(request)` on every POST (403 unless the form field `csrf` or the header carries it).

Sessions are the signed cookie of Starlette's SessionMiddleware (app.py: HttpOnly, SameSite=Strict,
Secure behind HTTPS, expiring after the idle time). The cookie holds the user's name, role, CSRF token
and a fingerprint of the password hash; the user is looked up in the users file on every request
(re-read only when it changed), so a removed user, a new role or a new password applies at once.
Each session has a random id; signing out records it (dashboard.sessions), so a copy of the cookie
taken before is refused afterwards. Failed sign-ins are counted per client address and per user name,
in memory.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from darse import api
from darse.dashboard.sessions import SignedOutSessions, signed_out_file
from darse.dashboard.users import User, UsersCache
from darse.errors import DarseError

log = logging.getLogger("darse.web.auth")

SIGN_IN_PATH = "/sign-in"
USER_KEY = "darse.user"  # the signed-in User in the ASGI scope, set by RequireSignIn
FAILURES_ALLOWED = 5  # failed sign-ins per client address, and per user name, ...
FAILURE_WINDOW = 600.0  # ... within this many seconds; then 429 until the oldest failure is this old
SEEN_EVERY = 60  # seconds: how often a request renews the cookie (its signature's time is the idle clock)
MAX_FIELD = 256  # a user name or password longer than this is not typed by a person


class FailureLimiter:
    """Failures per key in a sliding window, in memory (a restart forgets them), bounded in keys."""

    def __init__(self, limit: int = FAILURES_ALLOWED, window: float = FAILURE_WINDOW, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key, deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        stamps = self._recent(key, now)
        if len(stamps) < self.limit:
            return 0.0
        return stamps[-self.limit] + self.window - now

    def fail(self, key: str, now: float | None = None) -> float:
        """Count a failure (before the password is checked: parallel attempts cannot slip through)."""
        now = time.monotonic() if now is None else now
        stamps = self._recent(key, now)
        stamps.append(now)
        self._failures[key] = stamps
        self._failures.move_to_end(key)
        if len(self._failures) > self.max_keys:
            self._forget_some(now)
        return now

    def _forget_some(self, now: float) -> None:
        """Make room by forgetting keys with no failure left in the window, then keys below the limit,
        oldest first; a locked key is never forgotten (a flood of other names must not unlock it). If
        every key is locked, the map grows: each entry is a few counters, and the flood is refused."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        for key in list(self._failures):
            if len(self._failures) <= self.max_keys:
                break
            if len(self._recent(key, now)) < self.limit:
                del self._failures[key]

    def forgive(self, key: str, stamp: float) -> None:
        """Take back a failure counted by `fail` for an attempt that succeeded."""
        stamps = self._failures.get(key)
        if stamps and stamp in stamps:
            stamps.remove(stamp)


class _AuthState:
    """Per application: the users file cache and the failure counters."""

    def __init__(self, settings: Any) -> None:
        self.users = UsersCache(settings.users_file)
        self.limiter = FailureLimiter()
        self.trusted = trusted_networks(settings.trusted_proxy)
        self.signed_out = SignedOutSessions(signed_out_file(settings.users_file))
        self.idle_seconds = settings.idle_hours * 3600
        self.untrusted_proxies: set[str] = set()  # peers already warned about (once each, bounded)


def _state(app: Any) -> _AuthState:
    state = getattr(app.state, "darse_auth", None)
    if state is None:
        state = _AuthState(app.state.settings)
        app.state.darse_auth = state
    return state


def trusted_networks(spec: str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """`--trusted-proxy`: addresses or networks, comma-separated (`172.18.0.2`, `172.18.0.0/16`)."""
    networks = []
    for part in (spec or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise DarseError(
                    f"not an address or network: {part.strip()[:60]!r}", "give --trusted-proxy an IP, e.g. 172.18.0.2"
                ) from None
    return networks


def _in(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Scope, networks: list) -> str:
    """The visitor's address: the peer's, or, when the peer is the trusted proxy, the last address of
    X-Forwarded-For that is not the proxy's (the one the proxy itself saw). Anyone else's header is
    ignored: a client could write any address there."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    if not networks or not _in(peer, networks):
        return peer
    hops = [hop.strip() for value in Headers(scope=scope).getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if _in(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            break  # the proxy passed something that is not an address: count the proxy itself
    return peer


# --- the session's user --------------------------------------------------------------------------------


def _resolve(scope: Scope) -> User | None:
    """The session's user, checked against the users file now; a session whose user is gone or whose
    password changed is emptied (its cookie is deleted with the answer)."""
    session = scope.get("session")
    if not session or not session.get("user"):
        return None
    state = _state(scope["app"])
    try:
        account = state.users.get(session["user"])
        if session.get("sid") in state.signed_out or not session.get("sid"):
            account = None  # signed out (a copy of the cookie), or a session made before sessions had ids
    except DarseError as exc:
        log.error("cannot read the users file or the signed-out sessions, everyone is signed out: %s", exc.one_line())
        account = None
    if account is None or not hmac.compare_digest(str(session.get("pw", "")), account.fingerprint):
        session.clear()
        return None
    if session.get("role") != account.user.role:
        session["role"] = account.user.role
    now = int(time.time())
    if now - int(session.get("seen", 0)) >= SEEN_EVERY:
        session["seen"] = now  # a modified session is signed again: the idle expiry starts over
    return account.user


def _exempt(path: str) -> bool:
    if path == SIGN_IN_PATH:
        return True
    return path.startswith("/static/") and ".." not in path.split("/")


class RequireSignIn:
    """Pure ASGI (no buffering: Server-Sent Events stream through it). Sets `scope["darse.user"]`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.startswith("/static/") and _exempt(path):
            await self.app(scope, receive, send)
            return
        user = _resolve(scope)
        scope[USER_KEY] = user
        if user is not None or _exempt(path):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _refuse(scope)(scope, receive, send)


def _refuse(scope: Scope) -> Response:
    """A page load goes to the sign-in form and comes back after; htmx, streams and POSTs get 401
    (htmx follows HX-Redirect to the form)."""
    headers = Headers(scope=scope)
    here = scope.get("path", "/") + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
    partial = headers.get("hx-request") == "true" or "text/event-stream" in headers.get("accept", "")
    if scope.get("method") in ("GET", "HEAD") and not partial:
        return RedirectResponse(_sign_in_url(here), status_code=303)
    current = urlsplit(headers.get("hx-current-url", ""))
    back = _local(current.path + (f"?{current.query}" if current.query else "")) or "/"
    return PlainTextResponse(
        "sign in first", status_code=401, headers={"HX-Redirect": _sign_in_url(back), "Cache-Control": "no-store"}
    )


def _sign_in_url(next_path: str) -> str:
    return SIGN_IN_PATH if next_path in ("", "/") else f"{SIGN_IN_PATH}?next={quote(next_path, safe='/')}"


def _local(target: str | None) -> str | None:
    """`target` when it is a path on this site (`/services/wiki?tab=logs`), else None: never another
    host (`https://evil`, `//evil`, `/\\evil`), a scheme or a control character."""
    if not target or len(target) > 2048 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# --- the contract --------------------------------------------------------------------------------------


def current_user(request: Request) -> User | None:
    """The signed-in user of this request (None on the sign-in page for a visitor)."""
    return request.scope.get(USER_KEY)


def still_signed_in(request: Request) -> bool:
    """Whether the session that opened this request is still good now: a live stream asks it as it goes, or a
    user removed, a password changed or a session signed out (a copy of its cookie) would go on reading."""
    return _resolve(request.scope) is not None


def require(request: Request, role: str) -> User:
    """The signed-in user when their role is `role` or above; HTTPException 401 or 403 otherwise."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "sign in first")
    if not user.can(role):
        raise HTTPException(403, f"this needs the {role} role; {user.name} is a {user.role}")
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use: the sign-in form has one before any user)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """HTTPException 403 unless the request carries the session's token (header `X-CSRF-Token`, as
    htmx sends it, or form field `csrf`). Reading the form here caches it for the route."""
    expected = request.session.get("csrf")
    given: Any = request.headers.get("x-csrf-token")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = (await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024)).get("csrf")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given.encode(), str(expected).encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


# --- the routes ----------------------------------------------------------------------------------------


def _form_page(
    request: Request, next_path: str, *, name: str = "", error: str = "", status: int = 200, headers=None
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "sign_in.html",
        {"name": name, "error": error, "next": next_path},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


async def sign_in(request: Request) -> Response:
    """GET: the form (a signed-in user goes straight to `next`). POST: check the form's CSRF token (a
    pre-session one), the failure counters, then the password; on success a new session (nothing of
    the visitor's survives it) and back to `next` when it is a local path."""
    if request.method != "POST":
        next_path = _local(request.query_params.get("next")) or ""
        if current_user(request) is not None:
            return RedirectResponse(next_path or "/", status_code=303)
        return _form_page(request, next_path)
    form = await request.form(max_files=0, max_fields=16, max_part_size=16 * 1024)
    next_path = _local(str(form.get("next") or "") or request.query_params.get("next")) or ""
    name = str(form.get("name") or "").strip()[:MAX_FIELD]
    try:
        await check_csrf(request)
    except HTTPException:
        return _form_page(request, next_path, name=name, error="The form expired. Sign in again.", status=403)
    password = str(form.get("password") or "")
    state = _state(request.app)
    address = client_address(request.scope, state.trusted)
    _warn_untrusted_proxy(state, request, address)
    keys = (f"address:{address}", f"name:{name.lower()}")
    wait = max(state.limiter.retry_after(key) for key in keys)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        log.warning("sign-in refused (too many failures) for %s from %s", _logged_name(state, name), address)
        return _form_page(
            request,
            next_path,
            name=name,
            error=f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            status=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    stamps = [(key, state.limiter.fail(key)) for key in keys]
    account = None
    if len(password) <= MAX_FIELD:
        try:
            accounts = state.users.accounts()
        except DarseError as exc:
            log.error("cannot read the users file: %s", exc.one_line())
            accounts = {}
        account = await run_in_threadpool(api.check_dashboard_password, accounts, name, password)
    if account is None:
        log.warning("sign-in failed for %s from %s", _logged_name(state, name), address)
        return _form_page(request, next_path, name=name, error="Wrong user name or password.", status=401)
    for key, stamp in stamps:
        state.limiter.forgive(key, stamp)
    request.session.clear()  # no fixation: nothing the visitor's cookie held survives
    request.session.update(
        {
            "user": account.user.name,
            "role": account.user.role,
            "csrf": secrets.token_urlsafe(32),
            "sid": secrets.token_urlsafe(24),  # refused for good once signed out (dashboard.sessions)
            "pw": account.fingerprint,
            "seen": int(time.time()),
        }
    )
    log.info("%s signed in (%s) from %s", account.user.name, account.user.role, address)
    return RedirectResponse(next_path or "/", status_code=303)


def _logged_name(state: _AuthState, name: str) -> str:
    """A failed sign-in's name as the log shows it: a user's name, quoted; anything else (a password typed
    in the name field, a scanner's guess) as "an unknown name", so that no password reaches the log."""
    try:
        known = state.users.get(name) is not None
    except DarseError:
        known = False
    return repr(name) if known else "an unknown name"


def _warn_untrusted_proxy(state: _AuthState, request: Request, address: str) -> None:
    """A proxy that is not `--trusted-proxy` makes every visitor behind it one address: five failures
    by anyone lock everyone out for ten minutes. Said once per peer in the log, where an admin looks."""
    if "x-forwarded-for" not in request.headers or address != (request.client.host if request.client else ""):
        return
    if address in state.untrusted_proxies or len(state.untrusted_proxies) >= 16:
        return
    state.untrusted_proxies.add(address)
    log.warning(
        "sign-ins arrive through a proxy at %s that is not trusted: every visitor behind it counts as %s for the "
        "failed sign-in limits; start darse serve with --trusted-proxy %s if it is your proxy",
        address,
        address,
        address,
    )


async def sign_out(request: Request) -> Response:
    user = require(request, "viewer")
    await check_csrf(request)
    state = _state(request.app)
    try:
        state.signed_out.add(str(request.session.get("sid", "")), time.time() + state.idle_seconds)
    except (DarseError, OSError) as exc:  # the cookie still goes; a copy of it would outlive the sign-out
        log.error("%s signed out, but the sign-out could not be recorded: %s", user.name, exc)
    request.session.clear()
    log.info("%s signed out", user.name)
    return RedirectResponse(SIGN_IN_PATH, status_code=303)


def routes() -> list[Route]:
    return [
        Route(SIGN_IN_PATH, sign_in, methods=["GET", "POST"], name="sign_in"),
        Route("/sign-out", sign_out, methods=["POST"], name="sign_out"),
    ]
