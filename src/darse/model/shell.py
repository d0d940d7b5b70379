"""Splitting a RUN script into simple commands, enough to check apt-get, curl, wget and git usage.

Tokenizes as the standard library's shlex does with shell punctuation (`tokenize`, a regular
expression that gives the same tokens, tested against shlex); scripts it cannot tokenize (unbalanced
quotes) fall back to splitting on whitespace, so a check may miss but never crashes.
"""

from __future__ import annotations

import re
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
        tokens = tokenize(text)
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


# One token: a run of shell punctuation, or a word made of unquoted characters, backslash escapes and
# quoted strings. Whitespace (shlex's: space, tab, CR, LF) between tokens is skipped by `_SPACE`.
_TOKEN = re.compile(
    r"""(?P<punct>[;&|(){}]+)|(?P<word>(?:[^ \t\r\n;&|(){}'"\\]+|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+)""",
    re.S,
)
_SPACE = re.compile(r"[ \t\r\n]*")  # shlex's whitespace, no more
_PIECE = re.compile(r"""\\(.)|'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\\'"]+)""", re.S)
_DOUBLE_ESCAPE = re.compile(r'\\([\\"])')


def tokenize(text: str) -> list[str]:
    """The tokens `shlex.shlex(text, posix=True, punctuation_chars=";&|(){}")` with whitespace_split
    gives, without its character-at-a-time loop (the costliest step of linting once): quotes removed,
    `\\x` is `x` outside quotes, and inside double quotes only `\\"` and `\\\\` lose their backslash.
    Raises ValueError where shlex does (an unclosed quote, a trailing backslash)."""
    tokens: list[str] = []
    index = _SPACE.match(text).end()
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            raise ValueError("unbalanced quotes or a trailing backslash")
        word = match.group("word")
        tokens.append(match.group("punct") if word is None else _unquote(word))
        index = _SPACE.match(text, match.end()).end()
    return tokens


def _unquote(word: str) -> str:
    if "\\" not in word and "'" not in word and '"' not in word:
        return word
    out = []
    for escaped, single, double, plain in _PIECE.findall(word):
        if plain:
            out.append(plain)
        elif single:
            out.append(single)
        elif double:
            out.append(_DOUBLE_ESCAPE.sub(r"\1", double))
        else:
            out.append(escaped)
    return "".join(out)


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
