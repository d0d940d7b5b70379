"""How the image's process runs: as which user, and whether a shell script is PID 1."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.lint.rules.dockerfile.common import final_chain
from darse.lint.shell import program
from darse.model.compose import is_true
from darse.model.dockerfiles import Dockerfile, Instruction, Stage

_INIT_PROGRAMS = {"tini", "tini-static", "dumb-init", "init", "s6-svscan", "catatonit", "supervisord", "runsvdir"}
_SHELLS = {"sh", "bash", "ash", "dash", "zsh"}


def _last_user(chain: list[Stage]) -> Instruction | None:
    for stage in chain:
        users = [i for i in stage.instructions if i.cmd == "USER"]
        if users:
            return users[-1]
    return None


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ("root", "0")


@dockerfile_rule(
    "DF008",
    "user-root",
    "Final USER is root",
    Severity.WARNING,
    """A container running as root turns any escape from the application into root on the
    container; switch to an unprivileged user at the end of the final stage. Build stages may use
    root: only the USER that the final image keeps is checked.""",
)
def user_root(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    user = _last_user(final_chain(dockerfile))
    if user is not None and user.args and _is_root(user.args[0]):
        yield Hit(f"the image runs as {user.args[0]}; end with an unprivileged USER", user.line, 1)


@dockerfile_rule(
    "DF009",
    "user-missing",
    "No USER in the final image",
    Severity.INFO,
    """Without a USER instruction the container runs as root unless its entrypoint drops
    privileges itself. Images built FROM another stage inherit that stage's USER.""",
)
def user_missing(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    chain = final_chain(dockerfile)
    if not chain or _last_user(chain) is not None:
        return
    image = chain[-1].image
    if image is not None and "nonroot" in image.tag:
        return
    yield Hit("no USER instruction: the image runs as root", chain[0].from_line, 1)


def _last(chain: list[Stage], cmd: str) -> Instruction | None:
    for stage in chain:
        found = [i for i in stage.instructions if i.cmd == cmd]
        if found:
            return found[-1]
    return None


def _script_pid1(instruction: Instruction) -> bool:
    """Whether this ENTRYPOINT/CMD makes a shell or a shell script PID 1."""
    if not instruction.args:
        return False
    if not instruction.json:
        text = instruction.args[0].strip()
        first = text.split()[0] if text.split() else ""
        return not text.startswith("exec ") and program([first]) not in _INIT_PROGRAMS
    first = program(list(instruction.args))
    if first in _INIT_PROGRAMS:
        return False
    if first in _SHELLS:
        # `["sh", "-c", "exec app"]`: the shell replaces itself with the application
        return not (instruction.args[1:2] == ("-c",) and instruction.args[-1].strip().startswith("exec "))
    return first.endswith(".sh")


@dockerfile_rule(
    "DF014",
    "script-pid1-without-init",
    "Shell script as PID 1 without init: true",
    Severity.WARNING,
    """A shell or shell-script entrypoint runs as PID 1 and does not pass SIGTERM on to the
    application, which is then killed after the stop timeout (the guide's 'Système init'). The
    Compose services that run this image need `init: true` (or the image an init such as tini).""",
)
def script_pid1_without_init(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    if ctx.service is None:
        return
    chain = final_chain(dockerfile)
    entrypoint = _last(chain, "ENTRYPOINT")
    started = entrypoint if entrypoint is not None and entrypoint.args else _last(chain, "CMD")
    if started is None or not _script_pid1(started):
        return
    users = next((image.users for image in ctx.service.home_made_images if image.dockerfile == dockerfile.path), ())
    lacking = [name for name, node in users if not is_true(node.get("init"))]
    if lacking:
        yield Hit(
            f"{started.cmd} runs a shell script as PID 1 and Compose service {', '.join(lacking)} lacks init: true",
            started.line,
            1,
        )
