"""Splitting RUN scripts: comments end a command, but a `#` inside a word or quotes does not."""

from __future__ import annotations

import pytest

from darse.lint.shell import split_commands


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
