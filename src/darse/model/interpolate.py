"""Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `-`, `:?`, `?`, `:+`, `+`, `$$`.

Only used to see the values Compose would see (lint); deployment itself always goes through the real
`docker compose`. Unknown syntax is kept literally rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | set("0123456789")


class InterpolationError(Exception):
    """A `${VAR:?message}` whose variable is unset, or a malformed `${...}`."""


@dataclass
class Interpolation:
    value: str
    missing: list[str] = field(default_factory=list)  # variables used without a default and not set


def interpolate(text: str, env: Mapping[str, str]) -> Interpolation:
    """Substitute variables in `text` from `env`; raises InterpolationError for `:?`/`?` and bad syntax."""
    if "$" not in text:
        return Interpolation(text)
    missing: list[str] = []
    value, _ = _parse(text, 0, env, missing, stop=None)
    return Interpolation(value, missing)


def _parse(text: str, pos: int, env: Mapping[str, str], missing: list[str], stop: str | None) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if stop is not None and char == "}":
            return "".join(out), pos
        if char != "$":
            out.append(char)
            pos += 1
            continue
        nxt = text[pos + 1] if pos + 1 < len(text) else ""
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, env, missing)
            out.append(value)
        elif nxt in _NAME_START:
            end = pos + 1
            while end < len(text) and text[end] in _NAME_CHARS:
                end += 1
            name = text[pos + 1 : end]
            if name in env:
                out.append(env[name])
            else:
                missing.append(name)
            pos = end
        else:
            out.append("$")
            pos += 1
    if stop is not None:
        raise InterpolationError("unclosed ${ in " + _excerpt(text))
    return "".join(out), pos


def _braced(text: str, pos: int, env: Mapping[str, str], missing: list[str]) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _NAME_CHARS:
        pos += 1
    name = text[start:pos]
    if not name or name[0] not in _NAME_START:
        raise InterpolationError("invalid variable name in " + _excerpt(text))
    if pos >= len(text):
        raise InterpolationError("unclosed ${ in " + _excerpt(text))
    if text[pos] == "}":
        if name in env:
            return env[name], pos + 1
        missing.append(name)
        return "", pos + 1
    for operator in (":-", ":?", ":+", "-", "?", "+"):
        if text.startswith(operator, pos):
            break
    else:
        raise InterpolationError(f"invalid substitution ${{{name}{text[pos]}...}}")
    argument, end = _parse(text, pos + len(operator), env, missing, stop="}")
    is_set = name in env
    is_nonempty = is_set and env[name] != ""
    present = is_nonempty if operator.startswith(":") else is_set
    kind = operator[-1]
    if kind == "-":
        value = env[name] if present else argument
    elif kind == "+":
        value = argument if present else ""
    else:  # "?": required variable
        if not present:
            raise InterpolationError(f"required variable {name} is not set" + (f": {argument}" if argument else ""))
        value = env[name]
    return value, end + 1


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
