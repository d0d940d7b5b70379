"""Random values for placeholders, shared by linked keys, and the real file's text made from an example."""

from __future__ import annotations

import secrets

from darse.secrets.example import Example, is_placeholder

TOKEN_BYTES = 32  # 256 bits of entropy, 43 URL-safe characters: safe unquoted in any env file


def new_value() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class LinkedValues:
    """The value of each `@generate:LABEL` of one service: reused from a real file kept as it is, or
    generated once and given to every key with that label."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def __repr__(self) -> str:  # never show the values, even in a traceback
        return f"LinkedValues(labels={sorted(self._values)})"

    def remember(self, label: str, value: str) -> None:
        """A value already in a real file that stays; the first one wins."""
        if value and not is_placeholder(value):
            self._values.setdefault(label, value)

    def value(self, label: str | None) -> str:
        if label is None:
            return new_value()
        return self._values.setdefault(label, new_value())


def render_real(example: Example, example_name: str, links: LinkedValues) -> tuple[str, dict[str, str]]:
    """The real file's text (the example's lines, placeholders replaced) and the generated values by key.

    Comments, blank lines and defaults are copied as written; generated values are written bare, which
    their URL-safe alphabet allows.
    """
    by_line = {entry.line: entry for entry in example.entries}
    generated: dict[str, str] = {}
    out = [f"# Made from {example_name} by `darse secrets init`. Stays on this host: never commit it."]
    for number, line in enumerate(example.lines, start=1):
        entry = by_line.get(number)
        if entry is None or not entry.generate:
            out.append(line)
            continue
        value = links.value(entry.label)
        generated[entry.key] = value
        out.append(f"{'export ' if entry.export else ''}{entry.key}={value}")
    return "\n".join(out) + "\n", generated
