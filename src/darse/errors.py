"""The one exception type a user's mistake turns into.

The CLI prints a `DarseError` as a single line with its hint and exits 2; anything else is a bug and
keeps its traceback (shown with `--debug`).
"""


class DarseError(Exception):
    """A user-facing error: bad input, missing file, bad configuration. Never carries secret values."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message
