"""Rules whose findings come from the parsers: a file that cannot be read is a finding, not a crash."""

from darse.lint.rule import Severity, parse_rule

DOCKERFILE_SYNTAX = parse_rule(
    "DF000",
    "dockerfile-syntax",
    "Dockerfile cannot be parsed",
    Severity.ERROR,
    """BuildKit would refuse this Dockerfile (syntax error, unknown instruction, no FROM); nothing
    else in it can be checked until it parses.""",
)
COMPOSE_SYNTAX = parse_rule(
    "DC000",
    "compose-syntax",
    "Compose file cannot be read",
    Severity.ERROR,
    """Compose would refuse this file (YAML syntax, duplicate keys, not a mapping, a required
    variable `${VAR:?}` unset); rules cannot check what they cannot read.""",
)
COMPOSE_VARIABLE = parse_rule(
    "DC001",
    "compose-variable-unset",
    "Variable used but not set",
    Severity.WARNING,
    """`${VAR}` without a default and without a value in the service's `.env` becomes an empty
    string, which Compose only warns about. Give it a default (`${VAR:-value}`) or set it in `.env`.
    darse reads `.env` only, not your shell, so that lint gives the same answer on every host.""",
)
