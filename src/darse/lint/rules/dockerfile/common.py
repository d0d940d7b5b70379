"""What more than one family of Dockerfile rules looks at: the final image's stages, RUN scripts."""

from __future__ import annotations

from collections.abc import Iterator

from darse.model.dockerfiles import Dockerfile, Instruction, Stage


def final_chain(dockerfile: Dockerfile) -> list[Stage]:
    """The final stage and the stages it is built FROM, nearest first: what ends up in the image."""
    chain = []
    stage = dockerfile.final_stage
    while stage is not None and stage not in chain:
        chain.append(stage)
        stage = stage.parent
    return chain


def runs(dockerfile: Dockerfile, stages: list[Stage] | None = None) -> Iterator[tuple[Instruction, str]]:
    """Every RUN (ONBUILD RUN too) with its script text (heredoc bodies included)."""
    for stage in stages if stages is not None else dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "RUN" or (instruction.cmd == "ONBUILD" and instruction.sub_cmd == "RUN"):
                if instruction.json:
                    script = " ".join(instruction.args)
                else:
                    script = instruction.args[0] if instruction.args else ""
                if instruction.heredocs:
                    script += "\n" + "\n".join(instruction.heredocs)
                yield instruction, script


def command_position(
    dockerfile: Dockerfile, instruction: Instruction, commands: list[list[str]], index: int
) -> tuple[int, int]:
    """Where the script's `index`-th command is written, found by its first two words, skipping the
    earlier commands that start the same way (two `apt-get install` in one RUN)."""
    start = commands[index][:2]
    occurrence = sum(1 for command in commands[:index] if command[:2] == start)
    return dockerfile.position(instruction, " ".join(start), occurrence)
