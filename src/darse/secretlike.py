"""What looks like a secret: by variable name, or by the shape of the value. Shared by lint and secrets.

Only ever answers yes or no; callers must never echo the value they asked about.
"""

from __future__ import annotations

import re

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|API_?KEY|SECRET_?KEY|PRIVATE_?KEY|ACCESS_?KEY|"
    r"AUTH_?KEY|CREDENTIALS?|SALT|ENCRYPTION_?KEY|SIGNING_?KEY|CLIENT_?SECRET)$",
    re.IGNORECASE,
)
_SECRET_SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),  # GitLab tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
)
_REFERENCE = re.compile(r"\$(?:\{|[A-Za-z_])")  # `${VAR}` or `$VAR`; `$$` is an escaped dollar
_HARMLESS_VALUES = {"", "true", "false", "yes", "no", "0", "1", "none", "null"}


def is_secret_name(name: str) -> bool:
    """`DB_PASSWORD`, `SECRET_KEY`, `API_TOKEN` yes; `PASSWORD_MIN_LENGTH`, `DB_PASSWORD_FILE` no."""
    return bool(_SECRET_NAME.search(name))


def has_secret_shape(value: str) -> bool:
    return any(pattern.search(value) for pattern in _SECRET_SHAPES)


def is_secret_literal(name: str, value: str | None) -> bool:
    """A literal secret written in a file: a secret-named variable with a real value, or a key-shaped value.

    References (`${VAR}`, `$VAR`) are not literals: the value comes from elsewhere.
    """
    if value is None:
        return False
    text = value.strip()
    if has_secret_shape(text):
        return True
    if not is_secret_name(name) or text.lower() in _HARMLESS_VALUES or references_variable(text):
        return False
    return not text.startswith(("/run/secrets/", "/etc/", "/var/"))


def references_variable(text: str) -> bool:
    """`${DB_PASSWORD}` or `$DB_PASSWORD` (the value comes from elsewhere), but not `pa$$word`."""
    return bool(_REFERENCE.search(text.replace("$$", "")))
