"""Dockerfiles read with BuildKit's own parser (PyPI `dockerfile`), split into build stages.

The parser is as lenient as BuildKit's first pass, so a few semantic checks (unknown instruction, no
FROM) are added here and reported as problems with their line, never as exceptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from darse.model.image import ImageRef, parse_image
from darse.model.interpolate import InterpolationError, interpolate

KNOWN_INSTRUCTIONS = frozenset(
    [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
)
DOCKERFILE_GLOBS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile")


@dataclass(frozen=True)
class Instruction:
    cmd: str  # upper case, e.g. "RUN"
    args: tuple[str, ...]
    flags: tuple[str, ...]
    line: int
    end_line: int
    original: str
    json: bool  # exec form (`["a", "b"]`)
    sub_cmd: str | None
    heredocs: tuple[str, ...]  # heredoc bodies, for RUN <<EOF scripts


@dataclass
class Stage:
    index: int
    base: str  # as written after FROM
    base_resolved: str  # with global ARG defaults substituted ("" when unresolvable)
    alias: str
    from_line: int
    instructions: list[Instruction] = field(default_factory=list)
    parent: Stage | None = None  # when FROM names an earlier stage

    @property
    def image(self) -> ImageRef | None:
        """The base image reference, or None for `scratch`, an earlier stage, or an unresolvable ARG."""
        if self.parent is not None or not self.base_resolved or self.base_resolved == "scratch":
            return None
        return parse_image(self.base_resolved)


@dataclass(frozen=True)
class DockerfileProblem:
    message: str
    line: int
    column: int


@dataclass
class Dockerfile:
    path: Path
    lines: list[str]
    instructions: list[Instruction] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    global_args: dict[str, str | None] = field(default_factory=dict)
    problems: list[DockerfileProblem] = field(default_factory=list)

    @property
    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def position(self, instruction: Instruction, needle: str, occurrence: int = 0) -> tuple[int, int]:
        """Line and column of `needle` as whole words inside the instruction's source lines.

        Whole words, so `PASSWORD` is not found inside `PASSWORD_MIN_LENGTH` nor `git` inside `b.git`;
        a space matches any run of blanks; `occurrence` picks a later match, for a script that runs
        the same command twice.
        """
        if needle:
            pattern = re.escape(needle).replace(r"\ ", r"\s+")
            word = re.compile(rf"(?<![\w./-]){pattern}(?![\w.-])")
            found = 0
            for number in range(instruction.line, min(instruction.end_line, len(self.lines)) + 1):
                for match in word.finditer(self.lines[number - 1]):
                    if found == occurrence:
                        return number, match.start() + 1
                    found += 1
        return instruction.line, _indent(self.lines, instruction.line)


def _indent(lines: list[str], line: int) -> int:
    if 1 <= line <= len(lines):
        text = lines[line - 1]
        return len(text) - len(text.lstrip()) + 1
    return 1


def load_dockerfile(path: Path) -> Dockerfile:
    from darse.fsutil import UnsafeFile, read_text_file

    try:
        text = read_text_file(path)
    except UnicodeDecodeError:
        return Dockerfile(path, [], problems=[DockerfileProblem("file is not UTF-8 text", 1, 1)])
    except UnsafeFile as exc:
        return Dockerfile(path, [], problems=[DockerfileProblem(f"not read: it is {exc.reason}", 1, 1)])
    except OSError as exc:
        return Dockerfile(path, [], problems=[DockerfileProblem(f"cannot read file: {exc.strerror}", 1, 1)])
    return parse_dockerfile(text, path)


def parse_dockerfile(text: str, path: Path) -> Dockerfile:
    result = Dockerfile(path, _buildkit_lines(text))
    if "\x00" in text:
        result.problems.append(DockerfileProblem("file contains NUL bytes", 1, 1))
        return result
    # BuildKit's Go parser, loaded on first use: loading it starts the Go runtime's threads, after
    # which the process must not fork (darse.lint.linter forks to lint large trees on two cores)
    import dockerfile as _bk

    try:
        commands = _bk.parse_string(text)
    except _bk.GoParseError as exc:
        result.problems.append(DockerfileProblem(f"Dockerfile syntax error: {exc}", _error_line(exc), 1))
        return result
    result.instructions = [
        Instruction(
            cmd=(command.cmd or "").upper(),  # None for a lone line continuation, which BuildKit refuses
            args=tuple(command.value),
            flags=tuple(command.flags),
            line=command.start_line,
            end_line=max(command.end_line, command.start_line),
            original=command.original or "",
            json=command.json,
            sub_cmd=command.sub_cmd.upper() if command.sub_cmd else None,
            heredocs=tuple(doc.content for doc in command.heredocs),
        )
        for command in commands
    ]
    _split_stages(result)
    return result


def _buildkit_lines(text: str) -> list[str]:
    """The lines as BuildKit numbers them: split on \\n only (`str.splitlines()` also splits on form
    feeds and U+2028, which would shift every later line), a \\r before it dropped."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _error_line(exc: Exception) -> int:
    words = str(exc).split()
    for index, word in enumerate(words[:-1]):
        if word.lower() == "line" and words[index + 1].rstrip(":,").isdigit():
            return int(words[index + 1].rstrip(":,"))
    return 1


def _split_stages(result: Dockerfile) -> None:
    by_alias: dict[str, Stage] = {}
    for instruction in result.instructions:
        if instruction.cmd not in KNOWN_INSTRUCTIONS:
            what = f"unknown instruction {instruction.cmd}" if instruction.cmd else "a line continuation ends the file"
            result.problems.append(DockerfileProblem(what, instruction.line, 1))
            continue
        if instruction.cmd == "FROM":
            _start_stage(result, instruction, by_alias)
        elif not result.stages:
            if instruction.cmd == "ARG":
                result.global_args.update(arg_pairs(instruction))
            else:
                result.problems.append(
                    DockerfileProblem(f"{instruction.cmd} before the first FROM", instruction.line, 1)
                )
        else:
            result.stages[-1].instructions.append(instruction)
    if not result.stages and not result.problems:
        result.problems.append(DockerfileProblem("no FROM instruction", 1, 1))


def _start_stage(result: Dockerfile, instruction: Instruction, by_alias: dict[str, Stage]) -> None:
    args = instruction.args
    if not args or not args[0]:
        result.problems.append(DockerfileProblem("FROM without an image", instruction.line, 1))
        return
    base = args[0]
    alias = args[2].lower() if len(args) >= 3 and args[1].upper() == "AS" else ""
    known = {name: value for name, value in result.global_args.items() if value is not None}
    try:
        resolved = interpolate(base, known)
        base_resolved = "" if resolved.missing else resolved.value
    except InterpolationError:
        base_resolved = ""
    stage = Stage(len(result.stages), base, base_resolved, alias, instruction.line)
    stage.parent = by_alias.get(base_resolved.lower()) if base_resolved else None
    if stage.parent is None and base_resolved.isdigit() and int(base_resolved) < len(result.stages):
        stage.parent = result.stages[int(base_resolved)]
    result.stages.append(stage)
    if alias:
        by_alias[alias] = stage


def arg_pairs(instruction: Instruction) -> dict[str, str | None]:
    """`ARG A=1 B` as `{"A": "1", "B": None}` (None: no default)."""
    out: dict[str, str | None] = {}
    for token in instruction.args:
        name, sep, value = token.partition("=")
        out[name] = unquote(value) if sep else None
    return out


def env_pairs(instruction: Instruction) -> list[tuple[str, str]]:
    """`ENV A=1 B="2 3"` and the legacy `ENV A 1` as a list of (name, value)."""
    args = instruction.args
    if len(args) % 2:
        return []
    return [(args[i], unquote(args[i + 1])) for i in range(0, len(args), 2)]


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
        return value[1:-1]
    return value
