"""Secrets written where the public repository shows them: the Compose file, tracked env files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from darse.fsutil import read_text_file
from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, compose_file_rule, compose_service_rule
from darse.model.compose import ComposeFile, env_files, environment
from darse.model.dotenv import parse_env
from darse.model.service import EXAMPLE_SUFFIX, SECRET_SUFFIX, env_file_path
from darse.model.yamlnode import YNode
from darse.secretlike import command_line_secrets, is_placeholder, is_secret_literal, secret_defaults


@compose_service_rule(
    "DC014",
    "secret-in-environment",
    "Secret written in the Compose file",
    Severity.ERROR,
    """The repository is public: passwords, tokens and keys go in an env_file secret (a real
    `*.secrets` file on the host, with its committed `*.secrets.example`), never as a literal in the
    Compose file: not in `environment:`, not as the default of a `${VAR:-default}` reference, not on
    a command line (`redis-server --requirepass ...`, `--password=...`). `${VAR}` references are
    fine. A placeholder (`<YOUR-TOKEN>`, `!changeme!`) is reported too: it belongs in the example
    secret file.""",
)
def secret_in_environment(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    for key, value in environment(node).items():
        written = value.raw if value.raw is not None else value.text()  # as written, before interpolation
        if value.value is None or written is None:
            continue
        if is_secret_literal(key, written):
            if is_placeholder(written):
                yield Hit(
                    f"{key} of service {name} holds a placeholder; move it into an example secret file "
                    "(NAME.secrets.example) read through env_file",
                    value.line,
                    value.column,
                )
            else:
                yield Hit(
                    f"{key} of service {name} is a literal secret; move it to an env_file", value.line, value.column
                )
        for variable in secret_defaults(written, key):
            yield Hit(
                f"the default of ${{{variable}}} in {key} of service {name} is a literal secret; "
                "drop the default and set it in an env_file",
                value.line,
                value.column,
            )
    for where, script in _command_lines(node):
        for flag in command_line_secrets(script):
            yield Hit(
                f"service {name} passes {flag} a literal secret on its command line; "
                "read it from the environment ($$VAR) set by an env_file",
                where.line,
                where.column,
            )


def _command_lines(node: YNode) -> Iterator[tuple[YNode, str]]:
    """`command`, `entrypoint` and `healthcheck.test` as written (before interpolation), item by item."""
    healthcheck = node.get("healthcheck")
    for holder in (node.get("command"), node.get("entrypoint"), healthcheck.get("test") if healthcheck else None):
        if holder is None:
            continue
        items = holder.value if holder.is_list else [holder]
        if holder.is_list:
            text = " ".join(_shell_word(item) for item in items)
            yield holder, text
        else:
            text = holder.raw if holder.raw is not None else holder.text()
            if text:
                yield holder, text


def _shell_word(item: YNode) -> str:
    text = item.raw if item.raw is not None else (item.text() or "")
    return text if " " not in text else f"{text} ;"  # `sh -c "script"`: the script's own words count


@compose_file_rule(
    "DC019",
    "secret-in-env-file",
    "Secret in an env file tracked by Git",
    Severity.ERROR,
    """An `env_file:` that is not a `*.secrets` file, or the `.env` Compose reads by itself, is
    published with the repository when Git tracks it: a password written there is leaked. Move it
    to a real `NAME.secrets` file (ignored by Git) with its committed `NAME.secrets.example`, remove
    the tracked file from the index and rotate the secret. In a Git repository only the files Git
    tracks are checked (outside one, every file is meant to be committed); real
    `*.secrets` files tracked by Git are RP006's business.""",
)
def secret_in_env_file(compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    repo = ctx.repository
    if repo is None:
        return
    in_git = repo.git.is_repository  # outside Git, every file of the folder is meant to be committed
    tracked = repo.git.tracked if in_git else set()
    candidates: dict[Path, None] = {compose.path.parent / ".env": None}
    for _name, node in compose.services():
        for ref in env_files(node):
            path = env_file_path(compose.path, ref.path)
            if path is not None:
                candidates[path] = None
    for path in candidates:
        if path.name.endswith((SECRET_SUFFIX, EXAMPLE_SUFFIX)) or (in_git and repo.relative(path) not in tracked):
            continue
        yield from _env_file_secrets(path, "Git tracks the file" if in_git else "the file is meant for Git")


_ENV_FILE_LIMIT = 1 << 20  # an env file larger than this is not read (untrusted input stays bounded)


def _env_file_secrets(path: Path, published: str) -> Iterator[Hit]:
    try:
        text = read_text_file(path, limit=_ENV_FILE_LIMIT, errors="replace")
    except OSError:  # UnsafeFile (a link out, a FIFO, too large) included: RP009 reports those
        return
    lines = text.splitlines()
    read_by = "Compose reads .env by itself and " if path.name == ".env" else ""
    for entry in parse_env(text):
        if not is_secret_literal(entry.key, entry.value):
            continue
        column = lines[entry.line - 1].find(entry.key) + 1 if entry.line <= len(lines) else 1
        if is_placeholder(entry.value):
            message = (
                f"{entry.key} in {path.name} holds a placeholder; {read_by}{published}: move it into "
                "an example secret file (NAME.secrets.example)"
            )
        else:
            message = (
                f"{entry.key} in {path.name} is a literal secret; {read_by}{published}, so it is "
                "published: move it to a NAME.secrets file and rotate it"
            )
        yield Hit(message, entry.line, max(column, 1), path)
