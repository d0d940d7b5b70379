"""The one exception type a user's mistake turns into.

The CLI prints a `DarseError` as a single line with its hint and exits 2; anything else is a bug and
keeps its traceback (shown with `--debug`).
"""

from __future__ import annotations

from collections.abc import Iterable


class DarseError(Exception):
    """A user-facing error: bad input, missing file, bad configuration. Never carries secret values."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


def did_you_mean(word: str, choices: Iterable[str], limit: int = 3) -> str:
    """A hint naming the choices closest to a mistyped `word` (`did you mean wiki, wiki-db?`), or ''.

    A typo is the likeliest mistake with a service, rule or command name; naming the intended one
    saves a trip through a listing."""
    from difflib import get_close_matches

    unique = sorted(set(choices))
    close = get_close_matches(word, unique, n=limit, cutoff=0.6)
    if not close:
        lowered = {choice.lower(): choice for choice in unique}
        close = [lowered[m] for m in get_close_matches(word.lower(), list(lowered), n=limit, cutoff=0.6)]
    return f"did you mean {', '.join(close)}?" if close else ""
