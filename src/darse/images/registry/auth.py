"""Answering a registry's `WWW-Authenticate` challenge: Basic (htpasswd) or Bearer (a token service).

A Bearer token is fetched once per scope and cached until shortly before it expires; once a registry
asked for Basic, the header is sent up front. A password goes in clear only to a loopback address
(the client refuses plain HTTP elsewhere), and no message ever carries a password or a token.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx

from darse.errors import DarseError
from darse.images.registry.credentials import Credentials
from darse.images.registry.transport import deadline, is_loopback, json_object, read_body, ssl_cause, tls_error

MAX_HEADER_CHARS = 8192
MAX_TOKEN_BYTES = 16 * 1024 * 1024  # a token response (the same bound as any JSON the registry sends)
TOKEN_REQUEST_SECONDS = 60.0
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"` → ("bearer", {...})."""
    header = header[:MAX_HEADER_CHARS].strip()
    scheme, _, rest = header.partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
    return scheme.lower(), params


def basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class _Token:
    value: str
    expires: float


class Authenticator:
    """What to send to one registry host: remembered Basic, or a cached Bearer token per scope.
    Safe to share between the threads of one client."""

    def __init__(self, host: str, credentials: Credentials | None, http: httpx.Client) -> None:
        self.host = host
        self.credentials = credentials
        self._http = http
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._basic = False

    def header(self, scope: str | None) -> dict[str, str]:
        """The `Authorization` header already known for `scope` (none before the first challenge)."""
        with self._lock:
            if self._basic and self.credentials:
                return {"Authorization": basic_header(self.credentials)}
            token = self._tokens.get(scope or "")
            if token and token.expires > time.monotonic():
                return {"Authorization": f"Bearer {token.value}"}
        return {}

    def answer(self, challenge: str, scope: str | None, scheme: str) -> dict[str, str]:
        """The header that answers a 401's challenge (`scheme` is the registry's, http or https)."""
        kind, params = parse_challenge(challenge)
        if kind == "basic":
            if not self.credentials:
                raise self.error()
            if scheme == "http" and not is_loopback(self.host):  # pragma: no cover - refused by the client
                raise DarseError(f"refusing to send a password in clear to {self.host}", "use HTTPS")
            with self._lock:
                self._basic = True
            return {"Authorization": basic_header(self.credentials)}
        if kind == "bearer":
            wanted = params.get("scope") or scope or ""
            token = self._fetch_token(params, wanted)
            with self._lock:
                self._tokens[scope or ""] = token
            return {"Authorization": f"Bearer {token.value}"}
        raise DarseError(
            f"{self.host} asks for an unknown authentication scheme {kind[:40]!r}",
            "darse answers Basic and Bearer challenges",
        )

    def _fetch_token(self, params: dict[str, str], scope: str) -> _Token:
        realm = params.get("realm", "")
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise DarseError(f"{self.host}: the token endpoint {realm[:80]!r} is not a URL", "the registry is broken")
        if parsed.scheme == "http" and not is_loopback(parsed.netloc):
            raise DarseError(
                f"{self.host}: the token endpoint is plain HTTP on {parsed.netloc}", "a token service must use HTTPS"
            )
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
        headers = {"Authorization": basic_header(self.credentials)} if self.credentials else {}
        try:
            with (
                deadline(TOKEN_REQUEST_SECONDS),
                self._http.stream("GET", realm, params=query, headers=headers) as response,
            ):
                if response.status_code in (401, 403):
                    raise self.error()
                if response.status_code != 200:
                    raise DarseError(
                        f"{self.host}: the token endpoint answered {response.status_code}",
                        "check the registry's token service",
                    )
                data = json_object(read_body(response, MAX_TOKEN_BYTES, "token"), "token")
        except httpx.ConnectError as exc:
            if ssl_cause(exc):
                raise tls_error(self.host, exc) from None
            raise DarseError(f"cannot reach the token endpoint of {self.host}", "check the network") from None
        except httpx.HTTPError as exc:
            raise DarseError(f"token request to {self.host} failed ({type(exc).__name__})", "retry") from None
        value = data.get("token") or data.get("access_token")
        if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_BYTES:
            raise DarseError(f"{self.host}: the token endpoint sent no token", "the registry is broken")
        expires_in = data.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int) and 0 < expires_in < 86400 else 60
        return _Token(value, time.monotonic() + max(lifetime - 10, 5))

    def error(self) -> DarseError:
        """Credentials refused, or none given where they are needed."""
        if self.credentials:
            return DarseError(
                f"authentication failed for {self.credentials.username} at {self.host}",
                "check the user and password (DARSE_REGISTRY_USER / DARSE_REGISTRY_PASSWORD or docker login)",
            )
        return DarseError(
            f"{self.host} requires authentication",
            "set DARSE_REGISTRY_USER and DARSE_REGISTRY_PASSWORD, or run docker login " + self.host,
        )
