"""Checks before anything is changed on the engine: the tree, lint, secrets. Each failure is one line.

Every check here only reads; a deploy starts touching the engine (networks, containers) after all pass.
"""

from __future__ import annotations

from darse.errors import DarseError
from darse.lint.rule import Severity
from darse.model.repository import Repository
from darse.model.service import Service
from darse.secrets.check import KEY_MISSING, LINK_MISMATCH, MISSING, PLACEHOLDER, TRACKED, UNREADABLE, check_service


def check_lint(repository: Repository, service: Service, force: bool) -> int:
    """Lint errors block a deploy unless `force`; returns the number of errors let through."""
    from darse.lint.linter import Linter

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


# Secret problems that stop a deploy: the service would start without its settings, or with a
# placeholder, or with a secret that Git publishes. Not being ignored yet, or being readable by other
# users of the host, is reported by `darse secrets check` but does not stop a deploy.
BLOCKING_SECRET_PROBLEMS = {MISSING, UNREADABLE, KEY_MISSING, PLACEHOLDER, LINK_MISMATCH, TRACKED}


def check_secrets(repository: Repository, service: Service) -> None:
    """`darse secrets check` for the service, reading only; the first blocking problem is one line."""
    problems = [p for p in check_service(repository, service) if p.kind in BLOCKING_SECRET_PROBLEMS]
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        hint = (
            f"darse secrets init {service.name}"
            if first.kind in (MISSING, KEY_MISSING, PLACEHOLDER)
            else f"darse secrets check {service.name} lists them"
        )
        message = first.message.split("; run darse secrets", 1)[0]  # the hint says what to run
        raise DarseError(f"{service.name}: {message}{more}", hint)


# A deploy records a commit; uncommitted changes in the service folder would make that a lie
# (darse.git.check_clean refuses them with this hint).
DIRTY_HINT = "commit them, or deploy anyway with --allow-dirty (recorded as dirty)"
