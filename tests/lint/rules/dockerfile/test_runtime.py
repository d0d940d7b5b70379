"""Dockerfile rules: the user and PID 1 (DF008, DF009, DF014, darse.lint.rules.dockerfile.runtime):
each rule fires where it should, at the exact place, and not on near misses. How a case is linted
and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.dockerfile.runtime as family

from helpers.lint import (
    DOCKERFILE,
    GOOD_SERVICE,
    Lint,
    assert_dockerfile_fires,
    assert_dockerfile_near_miss,
    case_rules,
    lint_dockerfile,
    rule_hits,
    rules_of,
)

# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DF008
    pytest.param("DF008", "FROM alpine:3.22\nUSER app\nRUN id\nUSER root\n", [(4, 1)], id="DF008-root-last"),
    pytest.param("DF008", "FROM alpine:3.22\nUSER 0:0\n", [(2, 1)], id="DF008-uid-0"),
    pytest.param(
        "DF008", "FROM alpine:3.22 AS base\nUSER root\nFROM base\nRUN id\n", [(2, 1)], id="DF008-inherited-from-stage"
    ),
    # DF009
    pytest.param("DF009", "FROM alpine:3.22\nRUN id\n", [(1, 1)], id="DF009-no-user"),
    pytest.param(
        "DF009", "FROM alpine:3.22 AS build\nUSER app\nFROM alpine:3.22\n", [(3, 1)], id="DF009-user-only-in-build"
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
    # DF008
    pytest.param(
        "DF008",
        "FROM alpine:3.22 AS build\nUSER root\nRUN make\nFROM alpine:3.22\nUSER app\n",
        id="DF008-root-only-in-build-stage",
    ),
    pytest.param("DF008", "FROM alpine:3.22\nUSER root\nRUN apk add curl\nUSER 1000:1000\n", id="DF008-root-then-app"),
    pytest.param("DF008", "FROM alpine:3.22\nUSER rootless\n", id="DF008-user-named-like-root"),
    # DF009
    pytest.param("DF009", "FROM alpine:3.22\nUSER app\n", id="DF009-user"),
    pytest.param("DF009", "FROM alpine:3.22 AS base\nUSER app\nFROM base\n", id="DF009-user-inherited"),
    pytest.param("DF009", "FROM gcr.io/distroless/static-debian12:nonroot\n", id="DF009-nonroot-image"),
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) | {"DF014"} == rules_of(family)
    assert case_rules(NEAR_MISSES) | {"DF014"} == rules_of(family)


# GOOD_SERVICE without `init: true`: the image must bring its own init (DF014).
NO_INIT = """
services:
  app:
    image: example/app:1.0
    restart: unless-stopped
"""


# Linked to the Dockerfile by `build: .` instead of by the image name.
BUILT_NO_INIT = """
services:
  web:
    build: .
    restart: unless-stopped
"""


# Runs some other image: not linked to app/Dockerfile, so its missing init is not DF014's business.
UNLINKED_NO_INIT = """
services:
  web:
    image: example/other:1.0
    restart: unless-stopped
"""


SCRIPT_ENTRYPOINT = 'FROM alpine:3.22\nUSER app\nENTRYPOINT ["/entrypoint.sh"]\n'


@pytest.mark.parametrize(
    ("compose", "dockerfile", "positions"),
    [
        pytest.param(NO_INIT, SCRIPT_ENTRYPOINT, [(3, 1)], id="script-entrypoint"),
        pytest.param(BUILT_NO_INIT, SCRIPT_ENTRYPOINT, [(3, 1)], id="linked-by-build"),
        pytest.param(
            NO_INIT, "FROM alpine:3.22\nUSER app\nCMD /usr/local/bin/app --serve\n", [(3, 1)], id="shell-form"
        ),
        pytest.param(NO_INIT, 'FROM alpine:3.22\nUSER app\nCMD ["bash", "-c", "app; cleanup"]\n', [(3, 1)], id="sh-c"),
        pytest.param(
            NO_INIT,
            'FROM alpine:3.22 AS base\nENTRYPOINT ["docker-entrypoint.sh"]\nFROM base\nUSER app\nCMD ["app"]\n',
            [(2, 1)],
            id="entrypoint-inherited-from-stage",
        ),
    ],
)
def test_df014_fires(lint: Lint, compose: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    result = lint_dockerfile(lint, dockerfile, compose)
    assert rule_hits(result, "DF014") == [(DOCKERFILE, line, column) for line, column in positions]


@pytest.mark.parametrize(
    ("compose", "dockerfile"),
    [
        pytest.param(GOOD_SERVICE, SCRIPT_ENTRYPOINT, id="init-true"),
        pytest.param(UNLINKED_NO_INIT, SCRIPT_ENTRYPOINT, id="service-runs-another-image"),
        pytest.param(NO_INIT, 'FROM alpine:3.22\nUSER app\nENTRYPOINT ["/usr/local/bin/app"]\n', id="binary"),
        pytest.param(
            NO_INIT,
            'FROM alpine:3.22\nUSER app\nENTRYPOINT ["/sbin/tini", "--"]\nCMD ["/entrypoint.sh"]\n',
            id="tini-entrypoint",
        ),
        pytest.param(
            NO_INIT, 'FROM alpine:3.22\nUSER app\nENTRYPOINT ["tini", "--", "/entrypoint.sh"]\n', id="tini-wraps-script"
        ),
        pytest.param(NO_INIT, "FROM alpine:3.22\nUSER app\nCMD exec /usr/local/bin/app\n", id="shell-form-exec"),
        pytest.param(NO_INIT, 'FROM alpine:3.22\nUSER app\nCMD ["sh", "-c", "exec app --serve"]\n', id="sh-c-exec"),
        pytest.param(NO_INIT, "FROM alpine:3.22\nUSER app\n", id="no-entrypoint-nor-cmd"),
    ],
)
def test_df014_near_miss(lint: Lint, compose: str, dockerfile: str) -> None:
    result = lint_dockerfile(lint, dockerfile, compose)
    assert rule_hits(result, "DF014") == []
    assert rule_hits(result, "DF000") == []


def test_df014_names_the_services_lacking_init(lint: Lint) -> None:
    result = lint_dockerfile(lint, SCRIPT_ENTRYPOINT, BUILT_NO_INIT)
    assert [f.message for f in result.findings if f.rule == "DF014"] == [
        "ENTRYPOINT runs a shell script as PID 1 and Compose service web lacks init: true"
    ]
