"""Secrets written into the image's configuration (ENV, ARG), which anyone who pulls it reads."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.model.dockerfiles import Dockerfile, arg_pairs, env_pairs
from darse.secretlike import is_secret_literal


@dockerfile_rule(
    "DF013",
    "secret-in-image",
    "Secret-looking value in ENV or ARG",
    Severity.ERROR,
    """ENV and ARG values are stored in the image's configuration and history, readable by anyone
    who pulls it, and the repository is public. Secrets come from the service's env_file at run
    time (`darse secrets`).""",
)
def secret_in_image(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage_or_global in [None, *dockerfile.stages]:
        if stage_or_global is None:
            instructions = [i for i in dockerfile.instructions if i.cmd == "ARG" and i.line < _first_from(dockerfile)]
        else:
            instructions = stage_or_global.instructions
        for instruction in instructions:
            if instruction.cmd == "ENV":
                pairs = env_pairs(instruction)
            elif instruction.cmd == "ARG":
                pairs = [(k, v) for k, v in arg_pairs(instruction).items() if v is not None]
            else:
                continue
            for name, value in pairs:
                if is_secret_literal(name, value):
                    line, col = dockerfile.position(instruction, name)
                    yield Hit(f"{instruction.cmd} {name} holds a literal secret; pass it at run time", line, col)


def _first_from(dockerfile: Dockerfile) -> int:
    return dockerfile.stages[0].from_line if dockerfile.stages else 1 << 30
