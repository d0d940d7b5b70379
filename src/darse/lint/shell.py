"""Splitting a RUN script into simple commands, enough to check apt-get, curl, wget and git usage.

Uses the standard library's shlex with shell punctuation; scripts it cannot tokenize (unbalanced
quotes) fall back to splitting on whitespace, so a check may miss but never crashes.
"""

from __future__ import annotations

import shlex
from functools import lru_cache

_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", ";;", "|&", "{", "}"}
_PREFIXES = {"sudo", "command", "exec", "nohup", "time", "xargs", "then", "do", "else", "if", "while", "!"}


def split_commands(script: str) -> list[list[str]]:
    """`a x && DEBIAN_FRONTEND=y b z` → `[["a", "x"], ["b", "z"]]` (assignments and sudo dropped)."""
    return [list(command) for command in _split_cached(script)]


@lru_cache(maxsize=4096)
def _split_cached(script: str) -> tuple[tuple[str, ...], ...]:
    """Several rules look at the same RUN; shlex is the costliest step of linting, so split it once."""
    return tuple(tuple(command) for command in _split(script))


def _braced(text: str) -> tuple[str, list[str]]:
    """Hide each `${...}` (nested ones included) behind a placeholder, so that the punctuation-aware
    lexer keeps `rm -rf ${F} /var/lib/apt/lists/*` one command instead of splitting at its braces."""
    if "${" not in text:
        return text, []
    hidden: list[str] = []
    out: list[str] = []
    index = 0
    while True:
        start = text.find("${", index)
        if start < 0:
            break
        depth, end = 0, start + 1
        while end < len(text):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if end >= len(text):
            break  # unbalanced: leave the rest as it is
        out.append(text[index:start])
        out.append(f"\x00{len(hidden)}\x00")
        hidden.append(text[start : end + 1])
        index = end + 1
    out.append(text[index:])
    return "".join(out), hidden


def _restore(token: str, hidden: list[str]) -> str:
    if "\x00" not in token:
        return token
    parts = token.split("\x00")
    return "".join(hidden[int(part)] if i % 2 else part for i, part in enumerate(parts))


def _split(script: str) -> list[list[str]]:
    text = strip_comments(script.replace("\\\n", " ")).replace("\n", " ; ")
    text, hidden = _braced(text)
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|(){}")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:
        tokens = text.replace(";", " ; ").replace("&&", " && ").replace("||", " || ").split()
    if hidden:
        tokens = [_restore(token, hidden) for token in tokens]
    commands: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        if token in _SEPARATORS:
            if current:
                commands.append(current)
            current = []
            continue
        if not current and (("=" in token and token.split("=", 1)[0].isidentifier()) or token in _PREFIXES):
            continue
        current.append(token)
    if current:
        commands.append(current)
    return commands


def strip_comments(script: str) -> str:
    """Drop shell comments: a `#` that starts a word, outside quotes, up to the end of its line.

    `curl https://x/#frag` keeps its `#` (mid-word), `echo "# no"` too (quoted)."""
    if "#" not in script:
        return script
    out: list[str] = []
    quote = ""
    index, length = 0, len(script)
    while index < length:
        char = script[index]
        if quote:
            if char == "\\" and quote == '"' and index + 1 < length:
                out.append(script[index : index + 2])
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char == "\\" and index + 1 < length:
            out.append(script[index : index + 2])
            index += 2
            continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (not out or out[-1][-1] in " \t\n;&|()"):
            end = script.find("\n", index)
            index = length if end < 0 else end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def program(command: list[str]) -> str:
    """The program's base name: `/usr/bin/apt-get` → `apt-get`."""
    return command[0].rsplit("/", 1)[-1] if command else ""
