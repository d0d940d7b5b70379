"""Splitting RUN scripts: comments end a command, but a `#` inside a word or quotes does not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from darse.model.shell import split_commands


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("apt-get install -y curl # --no-install-recommends", [["apt-get", "install", "-y", "curl"]]),
        ("curl -fsSL https://example.org/a#frag", [["curl", "-fsSL", "https://example.org/a#frag"]]),
        ("echo '# kept' \"# kept too\"", [["echo", "# kept", "# kept too"]]),
        ("echo a \\# b", [["echo", "a", "#", "b"]]),
        ("a; # b && c\nd", [["a"], ["d"]]),
        ("x && # comment\\\n  rm -rf /var/lib/apt/lists/*", [["x"]]),
    ],
)
def test_split_commands_drops_shell_comments(script: str, expected: list[list[str]]) -> None:
    assert split_commands(script) == expected


# --- the regular-expression tokenizer gives exactly shlex's tokens ---------------------------------------

_SHELL_CHARS = " \t\n\r\x0c'\"\\;&|(){}$=-/*ab01#~"


def _shlex_tokens(text: str) -> list[str] | None:
    import shlex

    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|(){}")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return None


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=_SHELL_CHARS, max_size=40))
def test_tokenize_agrees_with_shlex(text: str) -> None:
    from darse.model.shell import tokenize

    try:
        ours: list[str] | None = tokenize(text)
    except ValueError:
        ours = None
    assert ours == _shlex_tokens(text)


def test_tokenize_on_real_scripts() -> None:
    from darse.model.shell import tokenize

    script = 'apt-get update && apt-get install -y "a b" c\\ d \'e\' && rm -rf /var/lib/apt/lists/* ; echo "x\\"y\\$z"'
    assert tokenize(script) == _shlex_tokens(script)
