"""`darse build` and `darse push`."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from darse.errors import DarseError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@contextmanager
def _progress(enabled: bool):
    """A spinner with the current step on stderr (stdout stays clean for --json)."""
    if not enabled:
        yield lambda _title: lambda _line: None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    ) as bar:

        def start(title: str):
            task = bar.add_task(escape(title))

            def update(line: str) -> None:
                bar.update(task, description=f"{escape(title)}  [dim]{escape(line[:80])}[/]")

            return update

        yield start


def _repository_and_services(names: list[str]):
    from darse.model.repository import find_root, open_repository

    repository = open_repository(find_root(Path.cwd()))
    return repository, [repository.service(name) for name in names]


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def build(
    services: list[str] = typer.Argument(..., help="Service names (folders) whose images to build."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty", help="Build even with uncommitted changes."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the build cache."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Build each service's images, tagged <registry>/<name>:<CHANGELOG version>, with OCI labels."""
    from darse.engine.connect import BUILD_TIMEOUT, connect
    from darse.git import check_clean
    from darse.images.build import DIRTY_HINT, build_image, git_facts, labels_for, plan_service

    repository, chosen = _repository_and_services(services)
    host = registry or repository.config.registry
    work = []
    for service in chosen:  # every check before the first build: nothing half-done
        facts = git_facts(service.path)
        check_clean(f"service {service.name}", facts.dirty, allow_dirty, hint=DIRTY_HINT, listed=3)
        for plan in plan_service(service, host):
            work.append((plan, labels_for(plan, facts)))
    engine = connect(timeout=BUILD_TIMEOUT)
    results = []
    with _progress(not json_flag) as start:
        for plan, labels in work:
            update = start(f"building {plan.tag}")
            results.append(build_image(engine, plan, labels, no_cache=no_cache, progress=update))
    if json_flag:
        sys.stdout.write(json.dumps([r.as_json() for r in results], indent=2) + "\n")
        return
    table = Table(box=None)
    for column in ("tag", "ID", "size", "duration", "revision"):
        table.add_column(column)
    for r in results:
        table.add_row(
            escape(r.plan.tag),
            r.image_id.removeprefix("sha256:")[:12],
            _human_size(r.size),
            f"{r.duration:.1f} s",
            r.labels["org.opencontainers.image.revision"][:12],
        )
    out.print(table)


def push(
    services: list[str] = typer.Argument(..., help="Service names whose built images to push."),
    force: bool = typer.Option(False, "--force", help="Overwrite a version already pushed as another image."),
    latest: bool = typer.Option(False, "--latest", help="Also move the latest tag to this version."),
    registry: str = typer.Option(None, "--registry", help="Registry host [default: registry in darse.toml]."),
    json_flag: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Push the version tags `darse build` made. Login: DARSE_REGISTRY_USER/PASSWORD or docker login."""
    from darse.engine.connect import BUILD_TIMEOUT, connect
    from darse.images.build import plan_service
    from darse.images.push import push_image
    from darse.images.registry.client import RegistryClient
    from darse.images.registry.credentials import ca_bundle_for, resolve_credentials

    repository, chosen = _repository_and_services(services)
    host = registry or repository.config.registry
    plans = [plan for service in chosen for plan in plan_service(service, host)]
    if not plans:
        raise DarseError("nothing to push", "name services that build images")
    credentials = resolve_credentials(host)
    engine = connect(timeout=BUILD_TIMEOUT)
    results = []
    with (
        RegistryClient(host, credentials=credentials, ca_bundle=ca_bundle_for(host)) as client,
        _progress(not json_flag) as start,
    ):
        client.ping()
        for plan in plans:
            update = start(f"pushing {plan.tag}")
            results.append(push_image(engine, client, plan, credentials, force=force, latest=latest, progress=update))
    if json_flag:
        sys.stdout.write(json.dumps([r.as_json() for r in results], indent=2) + "\n")
        return
    for r in results:
        extra = " (and latest)" if r.latest else ""
        out.print(f"{r.status} {escape(r.plan.tag)}{extra}  {r.digest}")


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("push")(push)
