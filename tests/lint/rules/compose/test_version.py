"""Compose rules: the top-level version key (DC002, DC003, darse.lint.rules.compose.version): each rule
fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.version as family

from helpers.lint import GOOD_SERVICE, Lint, assert_compose_fires, assert_compose_near_miss, case_rules, rules_of

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DC002 / DC003: below 3.7 is DC002 (at the value), from 3.7 on only DC003 (at the key)
    pytest.param("DC002", 'version: "3.6"\n' + GOOD_SERVICE.lstrip(), {}, [(1, 10)], id="DC002-3.6"),
    pytest.param("DC002", "version: '2'\n" + GOOD_SERVICE.lstrip(), {}, [(1, 10)], id="DC002-2"),
    pytest.param("DC003", 'version: "3.8"\n' + GOOD_SERVICE.lstrip(), {}, [(1, 1)], id="DC003-3.8"),
    pytest.param("DC003", "version: '3.7'\n" + GOOD_SERVICE.lstrip(), {}, [(1, 1)], id="DC003-3.7"),
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
    # DC002 / DC003
    pytest.param("DC002", GOOD_SERVICE, {}, id="DC002-no-version"),
    pytest.param("DC002", 'version: "3.7"\n' + GOOD_SERVICE.lstrip(), {}, id="DC002-3.7-is-DC003s"),
    pytest.param("DC003", GOOD_SERVICE, {}, id="DC003-no-version"),
    pytest.param("DC003", 'version: "3.6"\n' + GOOD_SERVICE.lstrip(), {}, id="DC003-3.6-is-DC002s"),
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
