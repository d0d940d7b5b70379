"""Dockerfile rules: apt in RUN scripts (DF007, DF010, DF011, darse.lint.rules.dockerfile.apt): each
rule fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.dockerfile.apt as family

from helpers.lint import Lint, assert_dockerfile_fires, assert_dockerfile_near_miss, case_rules, rules_of

# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DF007
    pytest.param("DF007", "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND=noninteractive\n", [(2, 5)], id="DF007-env"),
    pytest.param(
        "DF007", "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND noninteractive\n", [(2, 5)], id="DF007-legacy-env"
    ),
    pytest.param(
        "DF007",
        r"""
        FROM debian:bookworm-slim
        ENV LANG=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive
        """,
        [(3, 5)],
        id="DF007-continuation-line",
    ),
    # DF010
    pytest.param(
        "DF010",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\n",
        [(2, 23)],
        id="DF010-one-line",
    ),
    pytest.param(
        "DF010", "FROM debian:bookworm-slim\nRUN apt -y install curl\n", [(2, 5)], id="DF010-apt-with-option-first"
    ),
    pytest.param(
        "DF010",
        r"""
        FROM debian:bookworm-slim
        RUN apt-get update \
         && apt-get install -y --no-install-recommends ca-certificates \
         && apt-get install -y curl \
         && rm -rf /var/lib/apt/lists/*
        """,
        [(4, 5)],
        id="DF010-second-install-on-continuation-line",
    ),
    pytest.param(
        "DF010",
        """
        FROM debian:bookworm-slim
        RUN <<EOF
        set -e
        apt-get update
            apt-get install -y curl
        rm -rf /var/lib/apt/lists/*
        EOF
        """,
        [(5, 5)],
        id="DF010-heredoc",
    ),
    # DF011
    pytest.param(
        "DF011",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n",
        [(2, 5)],
        id="DF011-no-cleanup",
    ),
    pytest.param(
        "DF011",
        "FROM debian:bookworm-slim\nRUN set -e; apt update; apt install -y --no-install-recommends curl\n",
        [(2, 13)],
        id="DF011-apt-update",
    ),
    pytest.param(
        "DF011",
        r"""
        FROM debian:bookworm-slim AS base
        RUN set -e \
            && apt-get -q update \
            && apt-get install -y --no-install-recommends curl
        RUN rm -rf /var/lib/apt/lists/*
        FROM base
        """,
        [(3, 8)],
        id="DF011-cleanup-in-later-run-of-parent-stage",
    ),
    pytest.param(
        "DF011",
        """
        FROM debian:bookworm-slim
        RUN --mount=type=cache,target=/var/cache/apt <<EOF
        apt-get update
        apt-get install -y --no-install-recommends curl
        EOF
        """,
        [(3, 1)],
        id="DF011-heredoc-cache-of-archives-only",
    ),
    # DF011: `${F}` is one word, so a braced variable before the lists no longer hides them (positive kept)
    pytest.param(
        "DF011",
        "FROM debian:bookworm-slim\nUSER app\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
        "    && rm -rf ${F} /tmp/*\n",
        [(3, 5)],
        id="DF011-braced-variable-wrong-folder",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
    # DF007
    pytest.param("DF007", "FROM debian:bookworm-slim\nARG DEBIAN_FRONTEND=noninteractive\n", id="DF007-arg"),
    pytest.param(
        "DF007",
        "FROM debian:bookworm-slim\nRUN DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends a\n",
        id="DF007-inline",
    ),
    # DF010
    pytest.param(
        "DF010",
        "FROM debian:bookworm-slim\nRUN apt-get install -y --no-install-recommends curl\n",
        id="DF010-no-install-recommends",
    ),
    pytest.param(
        "DF010",
        "FROM debian:bookworm-slim\nRUN apt-get -o APT::Install-Recommends=false install -y curl\n",
        id="DF010-apt-option",
    ),
    pytest.param(
        "DF010",
        r"""
        FROM debian:bookworm-slim
        RUN echo 'APT::Install-Recommends "0";' > /etc/apt/apt.conf.d/99-no-recommends
        RUN apt-get install -y curl
        """,
        id="DF010-apt-conf",
    ),
    pytest.param("DF010", "FROM debian:bookworm-slim\nRUN echo 'apt-get install curl'\n", id="DF010-quoted-text"),
    # DF011
    pytest.param(
        "DF011",
        r"""
        FROM debian:bookworm-slim
        RUN apt-get update \
         && apt-get install -y --no-install-recommends curl \
         && rm -rf /var/lib/apt/lists/*
        """,
        id="DF011-cleanup-same-run",
    ),
    pytest.param(
        "DF011",
        """
        FROM debian:bookworm-slim AS build
        RUN apt-get update && apt-get install -y --no-install-recommends gcc
        FROM debian:bookworm-slim
        COPY --from=build /usr/bin/gcc /usr/bin/gcc
        """,
        id="DF011-only-in-build-stage",
    ),
    pytest.param(
        "DF011",
        """
        FROM debian:bookworm-slim
        RUN --mount=type=cache,target=/var/lib/apt,sharing=locked apt-get update
        """,
        id="DF011-cache-mount",
    ),
    pytest.param(
        "DF011",
        """
        FROM debian:bookworm-slim
        RUN <<EOF
        apt-get update
        apt-get install -y --no-install-recommends curl
        rm -rf /var/lib/apt/lists/*
        EOF
        """,
        id="DF011-heredoc-cleanup",
    ),
    pytest.param(
        "DF011",
        "FROM debian:bookworm-slim\nUSER app\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
        "    && rm -rf ${F} /var/lib/apt/lists/*\n",
        id="DF011-braced-variable-then-lists",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
