"""What looks like a secret: by variable name, or by the shape of the value. Shared by lint and secrets.

Only ever answers yes or no; callers must never echo the value they asked about.
"""

from __future__ import annotations

import re

from darse.model.shell import program, split_commands

_SECRET_NAME = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|PASS|PWD|SECRET|TOKEN|API_?KEY|SECRET_?KEY|PRIVATE_?KEY|ACCESS_?KEY|"
    r"AUTH_?KEY|CREDENTIALS?|SALT|ENCRYPTION_?KEY|SIGNING_?KEY|CLIENT_?SECRET|APP_?KEY|MASTER_?KEY|"
    r"SECRET_?KEY_?BASE|REQUIREPASS|MASTERAUTH)$"
    # glued to a prefix: PAPERLESS_DBPASSWORD, WEBPASSWORD (Pi-hole), MYSQLPASSWORD, DBPASS
    r"|[A-Z0-9](?:PASSWORD|PASSWD)$|(?:^|_)DB_?PASS$",
    re.IGNORECASE,
)
_SECRET_SHAPES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub tokens
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),  # GitLab tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),  # Slack tokens
    re.compile(r"^base64:[A-Za-z0-9+/]{32,}={0,2}$"),  # Laravel's APP_KEY and its imitators
    # a password inside a URL (`postgres://app:s3cret@db/app`), not a reference to one (`:${DB_PASS}@`)
    re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:(?!\$)[^\s/@]{3,}@"),
)
# Values that stand for a secret still to be chosen: `<YOUR-TOKEN>`, `!changeme!`, `CHANGE_ME`, `xxxx`.
_PLACEHOLDER = re.compile(
    r"^(?:<[^<>]*>|\{\{[^{}]*\}\}|!+[a-z_ -]*!+|[x*.]{3,}|\.\.\.|"
    r"(?:your|my|insert|enter|replace|put|some)[-_ ]?\w*|"
    r"change[-_ ]?(?:me|it|this)\w*|changeme\w*|todo|tbd|fixme|placeholder|secret|password|example\w*)$",
    re.IGNORECASE,
)
# `${NAME:-default}`, `${NAME-default}`, `${NAME:=default}`: the default is written in the file.
_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?[-=]([^${}]*)\}")
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


def is_placeholder(value: str) -> bool:
    """`<YOUR-TOKEN>`, `!changeme!`, `CHANGE_ME`, `xxxx`: a value to replace, not a real secret."""
    return bool(_PLACEHOLDER.match(value.strip().strip("'\"")))


def secret_defaults(text: str, name: str = "") -> list[str]:
    """Names of the `${VAR:-default}` references whose default is a literal secret (for VAR or `name`)."""
    found = []
    for match in _DEFAULT.finditer(text.replace("$$", "")):
        variable, default = match.group(1), match.group(2)
        if is_secret_literal(variable, default) or (name and is_secret_literal(name, default)):
            found.append(variable)
    return found


def references_variable(text: str) -> bool:
    """`${DB_PASSWORD}` or `$DB_PASSWORD` (the value comes from elsewhere), but not `pa$$word`."""
    return bool(_REFERENCE.search(text.replace("$$", "")))


# Flags that take a secret on a command line beyond those named like one (`--password`, `--token`).
_SECRET_FLAGS = {"REQUIREPASS", "MASTERAUTH", "PASS", "PW"}
_MYSQL_CLIENTS = {"mysql", "mysqladmin", "mysqldump", "mariadb", "mariadb-admin", "mariadb-dump"}


def command_line_secrets(script: str) -> list[str]:
    """Flags given a literal secret in a command line: `--requirepass s3cret`, `--password=s3cret`,
    `mysql -ps3cret`. A value with any `$` is read from the environment at run time: not a literal."""
    found: list[str] = []
    for command in split_commands(script):
        mysql = program(command) in _MYSQL_CLIENTS
        for index, word in enumerate(command[1:], start=1):
            if " " in word:  # `sh -c "redis-server --requirepass ..."`: the script's own commands
                found += command_line_secrets(word)
                continue
            if not word.startswith("-") or word in ("-", "--"):
                continue
            flag, sep, value = word.partition("=")
            if mysql and not sep and flag.startswith("-p") and not flag.startswith("--") and len(flag) > 2:
                # `mysql -ps3cret` (glued; `-p s3cret` asks for the password and names a database)
                if "$" not in flag and is_secret_literal("PASSWORD", flag[2:]):
                    found.append("-p")
                continue
            name = flag.lstrip("-").replace("-", "_").upper()
            # only long flags are named: `-p` is a port for httpd, a password only for mysql clients
            if not (flag.startswith("--") and (is_secret_name(name) or name in _SECRET_FLAGS)):
                continue
            if not sep:
                if index + 1 >= len(command) or command[index + 1].startswith("-"):
                    continue
                value = command[index + 1]
            if "$" not in value and is_secret_literal("PASSWORD", value):
                found.append(flag)
    return found
