"""apt in RUN scripts: no prompts baked into the image, no recommended packages, no lists left behind."""

from __future__ import annotations

import re
from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.lint.rules.dockerfile.common import command_position, final_chain, runs
from darse.lint.shell import program, split_commands
from darse.model.dockerfiles import Dockerfile, env_pairs


@dockerfile_rule(
    "DF007",
    "env-debian-frontend",
    "DEBIAN_FRONTEND set with ENV",
    Severity.WARNING,
    """`ENV DEBIAN_FRONTEND=noninteractive` stays in the image and changes the behaviour of every
    `apt` run by its users; set it inline (`RUN DEBIAN_FRONTEND=noninteractive apt-get ...`) or
    with `ARG`.""",
)
def env_debian_frontend(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "ENV" and any(k == "DEBIAN_FRONTEND" for k, _ in env_pairs(instruction)):
                line, col = dockerfile.position(instruction, "DEBIAN_FRONTEND")
                yield Hit("DEBIAN_FRONTEND is set with ENV; set it inline in the RUN or with ARG", line, col)


def _apt_installs(commands: list[list[str]]) -> Iterator[int]:
    """Indexes of the `apt-get install` commands."""
    for index, command in enumerate(commands):
        if program(command) in ("apt-get", "apt") and "install" in command[1:]:
            yield index


def _recommends_disabled(command: list[str]) -> bool:
    return any(
        arg.startswith("--no-install-recommends")
        or re.search(r"APT::Install-Recommends=(false|0|no)", arg, re.IGNORECASE)
        for arg in command
    )


@dockerfile_rule(
    "DF010",
    "apt-no-recommends",
    "apt-get install without --no-install-recommends",
    Severity.WARNING,
    """Recommended packages are rarely needed in a container and can double its size and its attack
    surface. Same check as hadolint DL3015.""",
)
def apt_no_recommends(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    configured = any("Install-Recommends" in script for _i, script in runs(dockerfile) if "apt.conf" in script)
    if configured:
        return
    for instruction, script in runs(dockerfile):
        commands = split_commands(script)
        for index in _apt_installs(commands):
            if not _recommends_disabled(commands[index]):
                line, col = command_position(dockerfile, instruction, commands, index)
                yield Hit(f"{program(commands[index])} install without --no-install-recommends", line, col)


@dockerfile_rule(
    "DF011",
    "apt-lists-kept",
    "apt lists left in the image",
    Severity.WARNING,
    """`apt-get update` downloads package lists (tens of MB) into /var/lib/apt/lists; remove them in
    the same RUN (`rm -rf /var/lib/apt/lists/*`) or they stay in that layer forever. Checked on the
    stages the final image is made of, like hadolint DL3009; a cache mount on the lists is fine.""",
)
def apt_lists_kept(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for instruction, script in runs(dockerfile, final_chain(dockerfile)):
        commands = split_commands(script)
        updates = [i for i, c in enumerate(commands) if program(c) in ("apt-get", "apt") and "update" in c[1:]]
        if not updates:
            continue
        cleaned = any(program(c) == "rm" and any("/var/lib/apt/lists" in a for a in c) for c in commands)
        cached = any(f.startswith("--mount") and "/var/lib/apt" in f for f in instruction.flags)
        if cleaned or cached:
            continue
        line, col = command_position(dockerfile, instruction, commands, updates[0])
        written = program(commands[updates[0]])  # apt or apt-get, as the Dockerfile says it
        yield Hit(f"{written} update without rm -rf /var/lib/apt/lists/* in the same RUN", line, col)
