"""Parse rules: what Compose or BuildKit refuse (DC000, DC001, DF000, darse.lint.rules.parse): each
rule fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.parse as family

from helpers.lint import (
    MERGED_DEFAULTS,
    Lint,
    assert_compose_fires,
    assert_compose_near_miss,
    assert_dockerfile_fires,
    assert_dockerfile_near_miss,
    case_rules,
    lint_dockerfile,
    rules_of,
)

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
COMPOSE_TRUE_POSITIVES = [
    # DC000: what Compose refuses is reported where it is written
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:1.0
            restart: unless-stopped
            restart: always
        """,
        {},
        [(5, 5)],
        id="DC000-duplicate-key",
    ),
    pytest.param("DC000", "- app\n- db\n", {}, [(1, 1)], id="DC000-not-a-mapping"),
    pytest.param(
        "DC000", "services:\n  app:\n    image: [example/app:1.0\n", {}, [(3, 1)], id="DC000-unclosed-flow-sequence"
    ),
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:${TAG:?set TAG in .env}
        """,
        {},
        [(3, 12)],
        id="DC000-required-variable-unset",
    ),
    # DC001
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG}
        """,
        {},
        [(3, 12)],
        id="DC001-braced",
    ),
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              GREETING: hello $NAME
        """,
        {"app/.env": "OTHER=1\n"},
        [(5, 17)],
        id="DC001-bare-not-in-env-file",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), COMPOSE_TRUE_POSITIVES)
def test_compose_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
COMPOSE_NEAR_MISSES = [
    # DC000
    pytest.param("DC000", MERGED_DEFAULTS, {}, id="DC000-merge-key"),
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:${TAG:?set TAG in .env}
        """,
        {"app/.env": "TAG=1.0\n"},
        id="DC000-required-variable-set",
    ),
    # DC001
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG:-1.0}
            command: sh -c 'echo $$HOME'
        """,
        {},
        id="DC001-default-and-escaped-dollar",
    ),
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG}
            environment:
              GREETING: hello $NAME
        """,
        {"app/.env": "TAG=1.0\nNAME=world\n"},
        id="DC001-set-in-env-file",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files"), COMPOSE_NEAR_MISSES)
def test_compose_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
DOCKERFILE_TRUE_POSITIVES = [
    # DF000: what BuildKit would refuse is reported where it is written
    pytest.param("DF000", "FORM alpine:3.22\n", [(1, 1)], id="DF000-unknown-instruction"),
    pytest.param("DF000", "ARG V=1\nRUN echo $V\nFROM alpine:3.22\n", [(2, 1)], id="DF000-run-before-from"),
    pytest.param("DF000", "# nothing but a comment\nARG V=1\n", [(1, 1)], id="DF000-no-from"),
    pytest.param("DF000", "FROM alpine:3.22\nUSER app\nFROM\n", [(3, 1)], id="DF000-from-without-image"),
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), DOCKERFILE_TRUE_POSITIVES)
def test_dockerfile_rule_fires_at_exact_position(
    lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]
) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
DOCKERFILE_NEAR_MISSES = [
    # DF000: valid even if unusual
    pytest.param("DF000", "from alpine:3.22\nuser app\n", id="DF000-lower-case"),
    pytest.param(
        "DF000", "# syntax=docker/dockerfile:1\nARG TAG=3.22\nFROM alpine:${TAG}\n", id="DF000-directive-and-global-arg"
    ),
    pytest.param("DF000", "FROM alpine:3.22\nRUN <<EOF\necho closed\nEOF\n", id="DF000-closed-heredoc"),
]


@pytest.mark.parametrize(("rule", "dockerfile"), DOCKERFILE_NEAR_MISSES)
def test_dockerfile_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_parse_rule_has_true_positives_and_near_misses() -> None:
    assert case_rules(COMPOSE_TRUE_POSITIVES, DOCKERFILE_TRUE_POSITIVES) == rules_of(family)
    assert case_rules(COMPOSE_NEAR_MISSES, DOCKERFILE_NEAR_MISSES) == rules_of(family)


def test_unparsable_dockerfile_gets_only_df000(lint: Lint) -> None:
    """BuildKit's parser refuses it: the other rules do not guess at the rest of the file."""
    result = lint_dockerfile(lint, "FROM alpine\nRUN <<EOF\napt-get install curl\n")
    findings = [f for f in result.findings if f.rule.startswith("DF")]
    assert [(f.rule, f.message) for f in findings] == [("DF000", "Dockerfile syntax error: unterminated heredoc")]
