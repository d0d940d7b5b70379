"""Dockerfile rules: secrets in ENV and ARG (DF013, darse.lint.rules.dockerfile.secrets): each rule
fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.dockerfile.secrets as family

from helpers.lint import Lint, assert_dockerfile_fires, assert_dockerfile_near_miss, case_rules, rules_of

# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DF013
    pytest.param("DF013", "FROM alpine:3.22\nENV DB_PASSWORD=hunter2\n", [(2, 5)], id="DF013-env"),
    pytest.param("DF013", "FROM alpine:3.22\nENV DB_PASSWORD hunter2\n", [(2, 5)], id="DF013-legacy-env"),
    pytest.param("DF013", "ARG API_TOKEN=abc123\nFROM alpine:3.22\n", [(1, 5)], id="DF013-global-arg"),
    pytest.param("DF013", "FROM alpine:3.22\nARG SECRET_KEY=abc123\n", [(2, 5)], id="DF013-stage-arg"),
    pytest.param(
        "DF013",
        "FROM alpine:3.22\nENV PASSWORD_MIN_LENGTH=8 PASSWORD=hunter2\n",
        [(2, 27)],
        id="DF013-points-at-the-secret-not-a-longer-name",
    ),
    pytest.param(
        "DF013",
        r"""
        FROM alpine:3.22
        ENV AWS_REGION=eu-west-3 \
            AWS_KEY_ID=AKIAIOSFODNN7EXAMPLE
        """,
        [(3, 5)],
        id="DF013-key-shaped-value-on-continuation-line",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
    # DF013
    pytest.param("DF013", "FROM alpine:3.22\nENV DB_PASSWORD_FILE=/run/secrets/x\n", id="DF013-file-reference"),
    pytest.param("DF013", "FROM alpine:3.22\nENV PASSWORD_MIN_LENGTH=8\n", id="DF013-not-a-secret-name"),
    pytest.param("DF013", "FROM alpine:3.22\nARG TOKEN\n", id="DF013-arg-without-default"),
    pytest.param("DF013", "ARG TOKEN\nFROM alpine:3.22\n", id="DF013-global-arg-without-default"),
    pytest.param("DF013", "FROM alpine:3.22\nARG SECRET_KEY=${SECRET_KEY}\n", id="DF013-reference"),
    pytest.param("DF013", 'FROM alpine:3.22\nENV API_KEY="" AUTH_TOKEN=false\n', id="DF013-harmless-values"),
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
