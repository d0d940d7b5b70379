"""A small client for the Docker Registry HTTP API v2 (the `registry:2` software and compatible ones).

Several parts of darse reuse this module, not only `darse registry`: `darse push` asks it what a tag
already points at, and `darse inspect` reads manifests and layer blobs of remote images through it.
Its neighbours: `auth` answers the registry's authentication challenges, `manifests` knows the media
types and what a fetched manifest holds, `transport` bounds every request in time and size,
`credentials` finds the login. Image references are parsed by `darse.model.image`.

What it takes care of, so callers do not have to:

* HTTPS by default; plain HTTP only for a registry on a loopback address (a password sent in clear
  over a network is refused, not warned about). On loopback, with no scheme given, HTTPS is tried
  first and plain HTTP used only when the port does not speak TLS at all, as Docker itself does.
* Authentication: the registry's `WWW-Authenticate` challenge is answered, Basic (htpasswd) or Bearer
  (a token endpoint, one token per scope, cached until it expires).
* The `Accept` header always lists the OCI and Docker v2 manifests and indexes: without it a 2.8
  registry converts the manifest to schema 1 and answers another digest.
* A registry is untrusted input: every body is read with a size limit, every manifest and blob digest
  is recomputed and compared, pagination links must stay on the same registry, and JSON must have the
  expected shape. Failures are one-line `DarseError`s that never carry a password or a token.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from darse.errors import DarseError
from darse.images.registry.auth import MAX_HEADER_CHARS, Authenticator
from darse.images.registry.credentials import Credentials
from darse.images.registry.manifests import ACCEPTED_TYPES, Manifest, is_digest
from darse.images.registry.transport import (
    DeadlineTransport,
    deadline,
    is_loopback,
    json_object,
    read_body,
    ssl_cause,
    tls_error,
)
from darse.model.image import REPOSITORY_NAME, TAG_NAME

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the limit distribution itself enforces on push
MAX_JSON_BYTES = 16 * 1024 * 1024  # one page of catalog or tags
MAX_BLOB_BYTES = 64 * 1024 * 1024 * 1024  # no layer is bigger; a registry that says so lies
MAX_PAGES = 10_000
MAX_LISTING_BYTES = 64 * 1024 * 1024  # every page of one catalog or tag list together
MAX_LISTING_NAMES = 1_000_000
REQUEST_SECONDS = 60.0  # a whole request, body included: a server dripping bytes is cut off
LISTING_SECONDS = 600.0  # every page of one listing
BLOB_BYTES_PER_SECOND = 256 * 1024  # the slowest transfer a blob's deadline allows for


class BlobStream:
    """A blob being downloaded: `read(n)` or iterate; the digest is checked when the end is reached.

    Reading past `limit` bytes, or a digest that does not match at the end, raises a DarseError: a
    caller that consumed the whole stream without an exception got exactly the bytes it asked for.
    """

    def __init__(self, response: httpx.Response, digest: str, limit: int, where: str) -> None:
        self._chunks = response.iter_raw()
        self._hash = hashlib.sha256()
        self._buffer = b""
        self._done = False
        self._where = where
        self.digest = digest
        self.limit = limit
        self.bytes_read = 0
        length = response.headers.get("content-length", "")
        self.size: int | None = int(length) if length.isdigit() else None
        if self.size is not None and self.size > limit:
            raise DarseError(f"{where}: blob is {self.size} bytes, over the limit of {limit}", "the registry lies")

    def _pull(self) -> bytes:
        if self._done:
            return b""
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._done = True
            actual = "sha256:" + self._hash.hexdigest()
            if actual != self.digest:
                raise DarseError(
                    f"{self._where}: blob content has digest {actual}", "the registry sent other bytes than asked"
                ) from None
            return b""
        except httpx.TimeoutException:
            raise DarseError(
                f"{self._where}: the download did not finish in time", "check the registry or retry"
            ) from None
        except httpx.HTTPError as exc:
            raise DarseError(f"{self._where}: download interrupted ({type(exc).__name__})", "try again") from None
        self.bytes_read += len(chunk)
        if self.bytes_read > self.limit:
            raise DarseError(f"{self._where}: blob exceeds {self.limit} bytes", "the registry sends more than stated")
        self._hash.update(chunk)
        return chunk

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while chunk := self._pull():
                parts.append(chunk)
            return b"".join(parts)
        while len(self._buffer) < size and not self._done:
            chunk = self._pull()
            if not chunk:
                break
            self._buffer += chunk
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            out, self._buffer = self._buffer, b""
            yield out
        while chunk := self._pull():
            yield chunk


class RegistryClient:
    """One registry host. Use as a context manager; safe to share between threads of one command."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Credentials | None = None,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        scheme: str | None = None,
    ) -> None:
        explicit = re.match(r"^(https?)://", host)
        if explicit:
            scheme = scheme or explicit.group(1)
            host = host[explicit.end() :]
        host = host.rstrip("/").lower()
        if not host or "/" in host or any(c.isspace() for c in host):
            raise DarseError(f"not a registry host: {host[:80]!r}", "write HOST or HOST:PORT, e.g. 127.0.0.1:5000")
        if scheme not in (None, "https", "http"):
            raise DarseError(f"unknown scheme {scheme!r}", "use https (or http on a loopback address)")
        if scheme == "http" and not is_loopback(host):
            raise DarseError(
                f"plain HTTP refused for {host}: passwords and images would cross the network in clear",
                "serve the registry over HTTPS (plain HTTP is accepted only on a loopback address)",
            )
        self.host = host
        self.credentials = credentials
        self.page_size = 1000  # entries per page of catalog and tags
        self._scheme = scheme
        self._lock = threading.Lock()
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            context = ssl.create_default_context()
            try:
                context.load_verify_locations(cafile=ca_bundle)
            except (OSError, ssl.SSLError):
                raise DarseError(
                    f"cannot read the CA bundle {ca_bundle}", "give a PEM file of CA certificates"
                ) from None
            verify = context
        self._http = httpx.Client(
            timeout=timeout, transport=DeadlineTransport(verify), follow_redirects=False, trust_env=False
        )
        self._auth = Authenticator(host, credentials, self._http)

    # -- life cycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        user = self.credentials.username if self.credentials else None
        return f"RegistryClient(host={self.host!r}, user={user!r})"

    @property
    def scheme(self) -> str:
        """https, or http for a loopback registry that does not speak TLS (decided on first use)."""
        if self._scheme is None:
            with self._lock:
                if self._scheme is None:
                    self._scheme = self._probe_scheme()
        return self._scheme

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"

    # -- the API -----------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the host is a v2 registry and the credentials (if any) are accepted."""
        with self._request("GET", "/v2/", scope=None) as response:
            self._expect(response, "/v2/")

    def catalog(self) -> list[str]:
        """Every repository the registry has (`/v2/_catalog`, every page)."""
        return self._paged(f"/v2/_catalog?n={self.page_size}", "registry:catalog:*", "repositories", "catalog")

    def tags(self, repository: str) -> list[str]:
        """Every tag of `repository` (every page); a repository without tags gives []."""
        _check_repository(repository)
        return self._paged(f"/v2/{repository}/tags/list?n={self.page_size}", _scope(repository), "tags", repository)

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest of `repository` at a tag or digest, its digest recomputed and checked."""
        _check_repository(repository)
        _check_reference(reference)
        path = f"/v2/{repository}/manifests/{reference}"
        where = f"{self.host}/{repository}:{reference}" if ":" not in reference else f"{repository}@{reference}"
        with self._request("GET", path, scope=_scope(repository), headers=_accept()) as response:
            self._expect(response, where)
            raw = read_body(response, MAX_MANIFEST_BYTES, where)
            header_digest = response.headers.get("docker-content-digest", "")
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if header_digest and header_digest != digest:
            raise DarseError(
                f"{where}: manifest digest {digest} differs from the announced {header_digest[:80]}",
                "the registry is broken or lying; do not use this image",
            )
        if reference.startswith("sha256:") and reference != digest:
            raise DarseError(f"{where}: the registry sent a manifest with digest {digest}", "do not use this image")
        data = json_object(raw, where)
        media_type = data.get("mediaType") if isinstance(data.get("mediaType"), str) else content_type
        if media_type not in ACCEPTED_TYPES:
            raise DarseError(
                f"{where}: unsupported manifest type {str(media_type)[:80]!r}",
                "darse reads OCI and Docker v2 manifests and indexes",
            )
        return Manifest(media_type, digest, raw, data)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at (a HEAD request), or None when the tag or repository is absent."""
        _check_repository(repository)
        _check_reference(reference)
        path = f"/v2/{repository}/manifests/{reference}"
        with self._request("HEAD", path, scope=_scope(repository), headers=_accept()) as response:
            if response.status_code == 404:
                return None
            self._expect(response, f"{repository}:{reference}")
            digest = response.headers.get("docker-content-digest", "")
        if is_digest(digest):
            return digest
        return self.get_manifest(repository, reference).digest

    @contextmanager
    def open_blob(
        self, repository: str, digest: str, *, expected_size: int | None = None, limit: int = MAX_BLOB_BYTES
    ) -> Iterator[BlobStream]:
        """Stream a blob (redirects followed); the digest is verified when the stream is read to its end."""
        _check_repository(repository)
        if not is_digest(digest):
            raise DarseError(f"not a sha256 digest: {digest[:80]!r}", "a digest is sha256: and 64 hex digits")
        if expected_size is not None:
            limit = min(limit, expected_size)
        where = f"{repository}@{digest[:19]}"
        seconds = REQUEST_SECONDS + limit / BLOB_BYTES_PER_SECOND
        path = f"/v2/{repository}/blobs/{digest}"
        with self._request("GET", path, scope=_scope(repository), follow=True, seconds=seconds) as resp:
            self._expect(resp, where)
            stream = BlobStream(resp, digest, limit, where)
            if expected_size is not None and stream.size is not None and stream.size != expected_size:
                raise DarseError(
                    f"{where}: blob is {stream.size} bytes, the manifest says {expected_size}",
                    "the registry is broken or lying",
                )
            yield stream

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest: every tag pointing at it disappears with it."""
        _check_repository(repository)
        if not is_digest(digest):
            raise DarseError(f"deletion needs a digest, not {digest[:80]!r}", "look it up with darse registry ls")
        where = f"{repository}@{digest}"
        with self._request("DELETE", f"/v2/{repository}/manifests/{digest}", scope=_scope(repository, "*")) as resp:
            if resp.status_code == 405:
                raise DarseError(
                    f"{self.host} refuses deletion ({where})",
                    "enable it in the registry's config: storage: delete: enabled: true",
                )
            self._expect(resp, where)

    # -- plumbing ----------------------------------------------------------------------------------

    def _paged(self, first: str, scope: str, key: str, what: str) -> list[str]:
        items: list[str] = []
        url: str | None = first
        seen: set[str] = set()
        received = 0
        with deadline(LISTING_SECONDS):
            for _ in range(MAX_PAGES):
                if url is None:
                    return items
                if url in seen:
                    raise DarseError(f"{self.host}: pagination of {what} loops", "the registry is broken")
                seen.add(url)
                with self._request("GET", url, scope=scope) as response:
                    if response.status_code == 404 and key == "tags":
                        raise DarseError(f"no repository {what} at {self.host}", "list them with darse registry ls")
                    self._expect(response, what)
                    raw = read_body(response, MAX_JSON_BYTES, what)
                    link = response.headers.get("link", "")
                received += len(raw)
                if received > MAX_LISTING_BYTES:
                    raise DarseError(
                        f"{self.host}: the {what} listing passes {MAX_LISTING_BYTES} bytes", "the registry is lying"
                    )
                items.extend(self._page_names(json_object(raw, what), key, what))
                if len(items) > MAX_LISTING_NAMES:
                    raise DarseError(
                        f"{self.host}: more than {MAX_LISTING_NAMES} names in {what}", "the registry is lying"
                    )
                url = self._next_link(link[:MAX_HEADER_CHARS])
        raise DarseError(f"{self.host}: more than {MAX_PAGES} pages of {what}", "the registry is broken or lying")

    def _page_names(self, data: dict[str, Any], key: str, what: str) -> list[str]:
        values = data.get(key)
        if values is None:
            return []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DarseError(f"{self.host}: {what}: {key} is not a list of names", "the registry is broken")
        return values

    def _next_link(self, header: str) -> str | None:
        match = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', header)
        if not match:
            return None
        target = urllib.parse.urljoin(self.base_url + "/v2/", match.group(1))
        parsed = urllib.parse.urlsplit(target)
        if parsed.netloc.lower() != self.host or parsed.scheme != self.scheme or not parsed.path.startswith("/v2/"):
            raise DarseError(f"{self.host}: a pagination link leaves the registry", "the registry is broken or lying")
        return parsed.path + (f"?{parsed.query}" if parsed.query else "")

    @contextmanager
    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str | None,
        headers: dict[str, str] | None = None,
        follow: bool = False,
        seconds: float | None = None,
    ) -> Iterator[httpx.Response]:
        """Send with whatever auth is known; answer one 401 challenge; yield the (streamed) response.
        Everything until the block ends, reading the body included, must fit in `seconds`."""
        url = self.base_url + path
        with deadline(REQUEST_SECONDS if seconds is None else seconds):
            response = self._send(method, url, {**(headers or {}), **self._auth.header(scope)}, follow)
            try:
                if response.status_code == 401:
                    challenge = response.headers.get("www-authenticate", "")
                    response.close()
                    auth = self._auth.answer(challenge, scope, self.scheme)
                    response = self._send(method, url, {**(headers or {}), **auth}, follow)
                    if response.status_code == 401:
                        raise self._auth.error()
                yield response
            finally:
                response.close()

    def _send(self, method: str, url: str, headers: dict[str, str], follow: bool) -> httpx.Response:
        request = self._http.build_request(method, url, headers=headers)
        try:
            return self._http.send(request, stream=True, follow_redirects=follow)
        except httpx.ConnectError as exc:
            if ssl_cause(exc):
                raise tls_error(self.host, exc) from None
            raise DarseError(f"cannot reach the registry at {self.host}", "check the host, port and network") from None
        except httpx.TimeoutException:
            raise DarseError(f"the registry at {self.host} did not answer in time", "check the host or retry") from None
        except httpx.TooManyRedirects:
            raise DarseError(f"{self.host}: too many redirects", "the registry is misconfigured") from None
        except httpx.HTTPError as exc:
            raise DarseError(f"talking to {self.host} failed ({type(exc).__name__})", "check the registry") from None

    def _probe_scheme(self) -> str:
        """HTTPS unless the host is loopback and the port answers plain HTTP (no TLS at all)."""
        if not is_loopback(self.host):
            return "https"
        try:
            with deadline(REQUEST_SECONDS):
                self._http.get(f"https://{self.host}/v2/").close()
            return "https"
        except httpx.ConnectError as exc:
            cause = ssl_cause(exc)
            if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
                return "https"  # unreachable or untrusted: the real request reports it
        except httpx.HTTPError:
            return "https"
        return "http"

    def _expect(self, response: httpx.Response, where: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 401:
            raise self._auth.error()
        if status == 403:
            raise DarseError(f"{self.host}: access to {where} denied", "the user lacks the permission")
        if status == 404:
            raise DarseError(f"not found: {where} at {self.host}", "check the name and tag (darse registry ls)")
        if status == 429:
            raise DarseError(f"{self.host}: too many requests", "wait and retry")
        if "docker-distribution-api-version" not in response.headers and where == "/v2/":
            raise DarseError(f"{self.host} is not a Docker registry (HTTP {status})", "check the host and port")
        raise DarseError(f"{self.host}: {where}: HTTP {status}{_error_text(response)}", "see the registry's logs")


def _scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


def _accept() -> dict[str, str]:
    return {"Accept": ", ".join(ACCEPTED_TYPES)}


def _check_repository(repository: str) -> None:
    if len(repository) > 255 or not REPOSITORY_NAME.match(repository):
        raise DarseError(f"not a valid repository name: {repository[:80]!r}", "lowercase letters, digits, '._-/'")


def _check_reference(reference: str) -> None:
    if not (TAG_NAME.match(reference) or is_digest(reference)):
        raise DarseError(f"not a tag or digest: {reference[:80]!r}", "a tag like 1.2.0, or sha256:<64 hex>")


def _error_text(response: httpx.Response) -> str:
    """The registry's own error code (`MANIFEST_UNKNOWN`...), read defensively, or nothing."""
    try:
        raw = read_body(response, 64 * 1024, "error")
        errors = json.loads(raw).get("errors") or []
        code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
    except (DarseError, ValueError, AttributeError, RecursionError):
        return ""
    return f" ({str(code)[:60]})" if code else ""
