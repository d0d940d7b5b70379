"""Checks before anything is changed on the engine: the tree, lint, secrets. Each failure is one line.

Every check here only reads; a deploy starts touching the engine (networks, containers) after all pass.
"""

from __future__ import annotations

from darse.errors import DarseError
from darse.lint.rule import Severity
from darse.model.compose import env_files
from darse.model.repository import Repository
from darse.model.service import Service, env_file_path


def check_lint(repository: Repository, service: Service, force: bool) -> int:
    """Lint errors block a deploy unless `force`; returns the number of errors let through."""
    from darse.lint.engine import Linter

    linter = Linter(repository.config, repository)
    errors = [f for f in linter.lint_service(service) if f.severity >= Severity.parse("error")]
    if errors and not force:
        first = errors[0]
        where = f"{first.path}:{first.line} {first.rule}"
        raise DarseError(
            f"{service.name}: {len(errors)} lint error(s), first {where} {first.message}",
            f"fix them (`darse lint {service.name}`) or deploy anyway with --force",
        )
    return len(errors)


def check_secrets(repository: Repository, service: Service) -> None:
    """Every required env_file of the service exists on this host.

    The single place the secrets preflight lives: it will call `darse.secrets.check_service` once that
    module is merged; until then it checks the env_files Compose would refuse to start without.
    """
    for _name, node in service.compose.services():
        for ref in env_files(node):
            path = env_file_path(service.compose_path, ref.path)
            if ref.required and (path is None or not path.is_file()):
                shown = repository.relative(path) if path is not None else ref.path
                raise DarseError(f"{service.name}: missing secret file {shown}", f"darse secrets init {service.name}")


def check_clean(dirty_paths: list[str], service: Service, allow_dirty: bool) -> bool:
    """A deploy records a commit; uncommitted changes in the service folder would make that a lie."""
    if dirty_paths and not allow_dirty:
        more = f" and {len(dirty_paths) - 1} more" if len(dirty_paths) > 1 else ""
        raise DarseError(
            f"{service.name} has uncommitted changes ({dirty_paths[0]}{more})",
            "commit them, or deploy anyway with --allow-dirty (recorded as dirty)",
        )
    return bool(dirty_paths)
