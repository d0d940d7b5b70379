"""Compose rules: restart policy and init (DC004, DC005, DC018, darse.lint.rules.compose.lifecycle):
each rule fires where it should, at the exact place, and not on near misses. How a case is linted
and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.lifecycle as family

from helpers.lint import (
    GOOD_SERVICE,
    MERGED_DEFAULTS,
    Lint,
    assert_compose_fires,
    assert_compose_near_miss,
    case_rules,
    rules_of,
)

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DC004
    pytest.param(
        "DC004",
        """
        services:
          app:
            image: example/app:1.0
            init: true
        """,
        {},
        [(2, 3)],
        id="DC004-missing",
    ),
    pytest.param(
        "DC004",
        """
        services:
          app:
            image: example/app:1.0
            restart: always
            init: true
        """,
        {},
        [(4, 14)],
        id="DC004-always",
    ),
    pytest.param(
        "DC004",
        """
        x-defaults: &defaults
          restart: "no"
        services:
          app:
            <<: *defaults
            image: example/app:1.0
        """,
        {},
        [(2, 12)],
        id="DC004-from-merge-key-points-at-anchor",
    ),
    # DC005
    pytest.param(
        "DC005",
        """
        services:
          app:
            image: example/app:1.0
            restart: unless-stopped
        """,
        {},
        [(2, 3)],
        id="DC005-missing",
    ),
    pytest.param(
        "DC005",
        """
        services:
          app:
            image: example/app:1.0
            init: false
        """,
        {},
        [(4, 11)],
        id="DC005-false",
    ),
    # DC004: deploy.restart_policy without restart:, reported at the condition Compose converts
    pytest.param(
        "DC004",
        """
        services:
          app:
            image: example/app:1.0
            init: true
            deploy:
              restart_policy:
                condition: any
        """,
        {},
        [(7, 20)],
        id="DC004-deploy-condition-any",
    ),
    # DC018: s6-overlay refuses not to be PID 1
    pytest.param(
        "DC018",
        """
        services:
          sonarr:
            image: lscr.io/linuxserver/sonarr:4.0.11
            init: true
          mariadb:
            image: linuxserver/mariadb:11.4.4
            init: true
          custom:
            image: example/app:1.0
            entrypoint: ["/init"]
            init: true
        """,
        {},
        [(4, 11), (7, 11), (11, 11)],
        id="DC018-s6-overlay",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
    # DC004 / DC005: a merge key counts
    pytest.param("DC004", MERGED_DEFAULTS, {}, id="DC004-merge-key"),
    pytest.param("DC004", GOOD_SERVICE.replace("unless-stopped", '"unless-stopped"'), {}, id="DC004-quoted"),
    pytest.param("DC005", MERGED_DEFAULTS, {}, id="DC005-merge-key"),
    pytest.param("DC005", GOOD_SERVICE, {}, id="DC005-init-true"),
    # DC004: a restart policy Compose turns into unless-stopped
    pytest.param(
        "DC004",
        """
        services:
          app:
            image: example/app:1.0
            init: true
            deploy:
              restart_policy:
                condition: unless-stopped
        """,
        {},
        id="DC004-deploy-condition-unless-stopped",
    ),
    # DC005: images with their own init are not asked for init: true
    pytest.param(
        "DC005",
        """
        services:
          sonarr:
            image: lscr.io/linuxserver/sonarr:4.0.11
            restart: unless-stopped
          jenkins:
            image: jenkins/jenkins:2.479.1-lts
            restart: unless-stopped
          custom:
            image: example/app:1.0
            entrypoint: /usr/bin/dumb-init -- app
            restart: unless-stopped
          built:
            build: .
            restart: unless-stopped
        """,
        {"app/Dockerfile": 'FROM alpine:3.20\nENTRYPOINT ["/sbin/tini", "--"]\n'},
        id="DC005-own-init",
    ),
    # DC018: tini/dumb-init images and s6 images without init: true
    pytest.param(
        "DC018",
        """
        services:
          jenkins:
            image: jenkins/jenkins:2.479.1-lts
            init: true
          sonarr:
            image: lscr.io/linuxserver/sonarr:4.0.11
          overridden:
            image: lscr.io/linuxserver/sonarr:4.0.11
            entrypoint: ["/app/run.sh"]
            init: true
        """,
        {},
        id="DC018-no-s6-or-no-init",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
