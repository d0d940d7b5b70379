"""Compose rules: image tags, build:, no image (DC015, DC016, DC017, DC020,
darse.lint.rules.compose.images): each rule fires where it should, at the exact place, and not on
near misses. How a case is linted and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.images as family

from helpers.lint import GOOD_SERVICE, Lint, assert_compose_fires, assert_compose_near_miss, case_rules, rules_of

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DC015
    pytest.param(
        "DC015",
        """
        services:
          app:
            image: example/app
        """,
        {},
        [(3, 12)],
        id="DC015-no-tag",
    ),
    pytest.param(
        "DC015",
        """
        services:
          app:
            image: registry.example.org:5000/team/app:latest
        """,
        {},
        [(3, 12)],
        id="DC015-latest-with-registry-port",
    ),
    # DC016
    pytest.param(
        "DC016",
        """
        services:
          app:
            build: .
            image: example/app:1.0
        """,
        {"app/Dockerfile": "FROM alpine:3.22\nUSER app\n"},
        [(3, 5)],
        id="DC016-build",
    ),
    # DC020: Compose refuses a service without image and build
    pytest.param(
        "DC020",
        """
        services:
          app:
            restart: unless-stopped
            init: true
        """,
        {},
        [(2, 3)],
        id="DC020-no-image",
    ),
    # DC015: channel tags are as moving as latest
    pytest.param(
        "DC015",
        """
        services:
          a:
            image: redis:alpine
          b:
            image: node:lts
          c:
            image: nginx:stable
          d:
            image: mailserver/docker-mailserver:edge
          e:
            image: example/app:latest-alpine
          f:
            image: example/app:main
        """,
        {},
        [(3, 12), (5, 12), (7, 12), (9, 12), (11, 12), (13, 12)],
        id="DC015-channels",
    ),
    # DC017
    pytest.param(
        "DC017",
        """
        services:
          a:
            image: postgres:16
          b:
            image: postgres:16-alpine
          c:
            image: ghcr.io/example/app:v2
        """,
        {},
        [(3, 12), (5, 12), (7, 12)],
        id="DC017-major-only",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
    pytest.param(
        "DC020",
        """
        services:
          app:
            extends:
              file: common.yaml
              service: base
            restart: unless-stopped
            init: true
        """,
        {"app/common.yaml": "services:\n  base:\n    image: example/app:1.0\n"},
        id="DC020-image-from-extends",
    ),
    pytest.param("DC020", GOOD_SERVICE, {}, id="DC020-image"),
    # DC015
    pytest.param(
        "DC015",
        "services:\n  app:\n    image: example/app@sha256:" + "0" * 64 + "\n",
        {},
        id="DC015-digest",
    ),
    pytest.param(
        "DC015",
        """
        services:
          app:
            image: app:${TAG:-1.2}
          other:
            image: localhost:5000/team/other:2.0
        """,
        {},
        id="DC015-default-tag-and-registry-port",
    ),
    pytest.param(
        "DC015",
        """
        services:
          app:
            build: .
        """,
        {"app/Dockerfile": "FROM alpine:3.22\nUSER app\n"},
        id="DC015-build-without-image-is-DC016s",
    ),
    # DC016
    pytest.param("DC016", GOOD_SERVICE, {}, id="DC016-image-only"),
    # DC015: versions, dates, codenames of distributions, digests
    pytest.param(
        "DC015",
        """
        services:
          a:
            image: mariadb:11.4
          b:
            image: traefik:v2.11
          c:
            image: postgres:16.4-alpine
          d:
            image: debian:bookworm-20241111-slim
          e:
            image: debian:bookworm-slim
          f:
            image: example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000
          g:
            image: alpine:3
        """,
        {},
        id="DC015-versions",
    ),
    # DC017
    pytest.param(
        "DC017",
        """
        services:
          a:
            image: postgres:16.4
          b:
            image: node:20.18-bookworm-slim
          c:
            image: golang:1.23-alpine3.20
          d:
            image: redis:alpine
        """,
        {},
        id="DC017-major-minor",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
