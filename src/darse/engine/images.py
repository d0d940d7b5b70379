"""Images on an engine: build one from a context, push a tag, tag, look one up.

Builds and pushes go through docker-py's low-level client (`Engine.docker_api`): the engine's classic
builder and its upload, whose JSON event streams docker-py decodes. Each step or status line goes to
a callback as it comes, for a progress bar. The export stream of an image (`docker save`) is a call
of every client (`Engine.api.start_export`, `darse.engine.api.ImageExport`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from darse.engine.api import ImageExport
from darse.engine.docker import Engine
from darse.errors import DarseError

Lines = Callable[[str], None]


def inspect_image(engine: Engine, reference: str) -> dict[str, Any] | None:
    """The engine's record of an image (`Id`, `Size`, `RepoDigests`, ...), None when it has no such image."""
    try:
        return engine.api.inspect_image(reference)
    except engine.errors.NotFound:
        return None


def image_exists(engine: Engine, reference: str) -> bool:
    return inspect_image(engine, reference) is not None


def export_image(engine: Engine, reference: str) -> ImageExport:
    """The image as a `docker save` tar stream, requested now (`ImageExport.open()` waits for it)."""
    return engine.api.start_export(reference)


def build_image(
    engine: Engine,
    *,
    context: Path,
    dockerfile: str,
    tag: str,
    build_args: dict[str, str],
    labels: dict[str, str],
    no_cache: bool,
    target: str | None,
    on_line: Lines,
) -> dict[str, Any]:
    """Build `tag` with the classic builder, streaming each step line to `on_line`; the built image's
    record (as `inspect_image`). Any failure is a one-line DarseError naming the tag."""
    import docker.errors

    image_id = None
    try:
        stream = engine.docker_api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=build_args,
            labels=labels,
            nocache=no_cache,
            rm=True,
            forcerm=True,
            pull=False,
            target=target,
            decode=True,
        )
        for event in stream:
            if "error" in event:
                detail = str(event.get("error", "")).strip().splitlines()[-1:] or ["unknown error"]
                raise DarseError(f"building {tag} failed: {detail[0][:300]}", "see the step above (--debug)")
            text = event.get("stream")
            if isinstance(text, str) and text.strip():
                on_line(text.strip().splitlines()[-1])
            aux = event.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
                image_id = aux["ID"]
    except docker.errors.APIError as exc:
        raise DarseError(f"building {tag} failed: {exc.explanation or exc}", "check the Dockerfile") from None
    except docker.errors.DockerException as exc:
        raise DarseError(f"the Docker engine did not answer ({type(exc).__name__})", "is dockerd running?") from None
    return engine.docker_api.inspect_image(image_id or tag)


def tag_image(engine: Engine, image: str, repository: str, tag: str) -> None:
    engine.docker_api.tag(image, repository, tag)


def push_tag(
    engine: Engine,
    repository: str,
    tag: str,
    auth_config: dict[str, str] | None,
    secret: str | None,
    on_status: Lines,
) -> None:
    """Upload `repository:tag` (login in the X-Registry-Auth header, never on a command line),
    streaming each layer's status to `on_status`; `secret` is blanked out of the engine's errors."""
    import docker.errors

    try:
        for event in engine.docker_api.push(repository, tag=tag, auth_config=auth_config, stream=True, decode=True):
            if "error" in event:
                message = str(event.get("error", ""))[:300]
                if secret:
                    message = message.replace(secret, "****")
                raise DarseError(f"pushing {repository}:{tag} failed: {message}", "check the login and the registry")
            status = event.get("status")
            if isinstance(status, str):
                on_status(f"{event.get('id', '')} {status}".strip())
    except docker.errors.APIError as exc:
        raise DarseError(f"pushing {repository}:{tag} failed ({exc.status_code})", "check the registry") from None
