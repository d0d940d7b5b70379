"""`darse push`: the built version tags go to the registry, and a version names one image forever.

Before pushing, the registry is asked what the tag already points at: the same image (same config
digest, i.e. the same image ID) is a no-op; another image is refused unless forced. The engine does
the upload (it already has the layers); the login travels in the Engine API's X-Registry-Auth
header, never on a command line. `latest` is only ever pushed alongside a version tag.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from darse.build import ImagePlan
from darse.errors import DarseError
from darse.registry.client import Credentials, RegistryClient
from darse.registry.credentials import auth_config


@dataclass
class PushResult:
    plan: ImagePlan
    image_id: str
    digest: str
    status: str  # "pushed", "unchanged", "overwritten"
    latest: bool
    duration: float

    def as_json(self) -> dict:
        return {
            **self.plan.identity(),
            "id": self.image_id,
            "digest": self.digest,
            "status": self.status,
            "latest": self.latest,
            "duration": round(self.duration, 3),
        }


def _engine_push(engine, repository: str, tag: str, credentials: Credentials | None, progress: Callable[[str], None]):
    import docker.errors

    try:
        for event in engine.api.push(
            repository, tag=tag, auth_config=auth_config(credentials), stream=True, decode=True
        ):
            if "error" in event:
                message = str(event.get("error", ""))[:300]
                if credentials:
                    message = message.replace(credentials.password, "****")
                raise DarseError(f"pushing {repository}:{tag} failed: {message}", "check the login and the registry")
            status = event.get("status")
            if isinstance(status, str):
                progress(f"{event.get('id', '')} {status}".strip())
    except docker.errors.APIError as exc:
        raise DarseError(f"pushing {repository}:{tag} failed ({exc.status_code})", "check the registry") from None


def push_image(
    engine,
    client: RegistryClient,
    plan: ImagePlan,
    credentials: Credentials | None,
    *,
    force: bool,
    latest: bool,
    progress: Callable[[str], None],
) -> PushResult:
    import docker.errors

    started = time.monotonic()
    try:
        image = engine.images.get(plan.tag)
    except docker.errors.ImageNotFound:
        raise DarseError(f"no local image {plan.tag}", f"build it first: darse build {plan.service}") from None
    status = "pushed"
    if client.manifest_digest(plan.repository, plan.version) is not None:
        existing = client.get_manifest(plan.repository, plan.version)
        if existing.config_digest == image.id:
            status = "unchanged"
        elif not force:
            raise DarseError(
                f"{plan.tag} already exists in the registry as another image ({existing.digest[:19]}...)",
                "a version names one image forever: add a CHANGELOG entry with a new version, or pass --force",
            )
        else:
            status = "overwritten"
    target = f"{plan.registry}/{plan.repository}"
    if status != "unchanged":
        _engine_push(engine, target, plan.version, credentials, progress)
    if latest:
        image.tag(target, "latest")
        _engine_push(engine, target, "latest", credentials, progress)
    manifest = client.get_manifest(plan.repository, plan.version)
    if manifest.config_digest != image.id:
        raise DarseError(f"after the push, {plan.tag} in the registry is not the local image", "push again")
    return PushResult(plan, image.id, manifest.digest, status, latest, time.monotonic() - started)
