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
from pathlib import Path

from darse import progress
from darse.engine import images
from darse.engine.connect import BUILD_TIMEOUT, connect
from darse.engine.docker import Engine
from darse.errors import DarseError
from darse.images.build import ImagePlan, open_services, plan_service
from darse.images.registry.client import RegistryClient
from darse.images.registry.credentials import Credentials, auth_config, ca_bundle_for, resolve_credentials


@dataclass
class PushResult:
    plan: ImagePlan
    image_id: str
    digest: str
    status: str  # "pushed", "unchanged", "overwritten"
    latest: bool
    duration: float

    def to_dict(self) -> dict:
        return {
            **self.plan.identity(),
            "id": self.image_id,
            "digest": self.digest,
            "status": self.status,
            "latest": self.latest,
            "duration": round(self.duration, 3),
        }


def push_image(
    engine: Engine,
    client: RegistryClient,
    plan: ImagePlan,
    credentials: Credentials | None,
    *,
    force: bool,
    latest: bool,
    progress: Callable[[str], None],
) -> PushResult:
    started = time.monotonic()
    image = images.inspect_image(engine, plan.tag)
    if image is None:
        raise DarseError(f"no local image {plan.tag}", f"build it first: darse build {plan.service}")
    image_id = image["Id"]
    status = "pushed"
    if client.manifest_digest(plan.repository, plan.version) is not None:
        existing = client.get_manifest(plan.repository, plan.version)
        if existing.config_digest == image_id:
            status = "unchanged"
        elif not force:
            raise DarseError(
                f"{plan.tag} already exists in the registry as another image ({existing.digest[:19]}...)",
                "a version names one image forever: add a CHANGELOG entry with a new version, or pass --force",
            )
        else:
            status = "overwritten"
    target = f"{plan.registry}/{plan.repository}"
    auth = auth_config(credentials)
    secret = credentials.password if credentials else None
    if status != "unchanged":
        images.push_tag(engine, target, plan.version, auth, secret, progress)
    if latest:
        images.tag_image(engine, image_id, target, "latest")
        images.push_tag(engine, target, "latest", auth, secret, progress)
    manifest = client.get_manifest(plan.repository, plan.version)
    if manifest.config_digest != image_id:
        raise DarseError(f"after the push, {plan.tag} in the registry is not the local image", "push again")
    return PushResult(plan, image_id, manifest.digest, status, latest, time.monotonic() - started)


def push_services(
    start: Path,
    names: list[str],
    *,
    registry: str | None = None,
    force: bool = False,
    latest: bool = False,
    listener: progress.Listener = progress.ignore,
) -> list[PushResult]:
    """Push the version tags `build_services` made for the services named (and `latest` when asked).

    `registry` overrides darse.toml's; each image is one progress task whose details are the engine's status lines.
    """
    repository, chosen = open_services(start, names)
    host = registry or repository.config.registry
    plans = [plan for service in chosen for plan in plan_service(service, host)]
    if not plans:
        raise DarseError("nothing to push", "name services that build images")
    credentials = resolve_credentials(host)
    engine = connect(timeout=BUILD_TIMEOUT)
    results = []
    with RegistryClient(host, credentials=credentials, ca_bundle=ca_bundle_for(host)) as client:
        client.ping()
        for plan in plans:
            task = f"pushing {plan.tag}"
            report = progress.reporter(listener, task)
            results.append(push_image(engine, client, plan, credentials, force=force, latest=latest, progress=report))
            listener(progress.Event(task, done=True))
    return results
