"""Dockerfile rules: git clones, URLs and ADD (DF004, DF005, DF006, DF012,
darse.lint.rules.dockerfile.downloads): each rule fires where it should, at the exact place, and not
on near misses. How a case is linted and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.dockerfile.downloads as family

from helpers.lint import Lint, assert_dockerfile_fires, assert_dockerfile_near_miss, case_rules, rules_of

# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DF004
    pytest.param("DF004", "FROM alpine:3.22\nRUN git clone https://github.com/a/b /src\n", [(2, 5)], id="DF004-clone"),
    pytest.param(
        "DF004",
        "FROM alpine:3.22\nRUN git clone -b main https://github.com/a/b\nRUN git clone --branch=master https://x/c\n",
        [(2, 5), (3, 5)],
        id="DF004-moving-branch",
    ),
    pytest.param(
        "DF004",
        "FROM alpine:3.22\nRUN git clone https://github.com/a/b && git -C b checkout main\n",
        [(2, 5)],
        id="DF004-checkout-of-moving-branch",
    ),
    pytest.param(
        "DF004",
        r"""
        FROM debian:bookworm-slim
        RUN apt-get update \
            && apt-get install -y --no-install-recommends git \
            && git clone https://github.com/a/b.git /src/b \
            && git clone --branch v1.0 https://github.com/a/c.git /src/c \
            && git clone https://github.com/a/d.git /src/d
        """,
        [(4, 8), (6, 8)],
        id="DF004-continuation-lines",
    ),
    pytest.param(
        "DF004",
        """
        FROM alpine:3.22
        RUN <<EOF
        set -e
        git clone https://github.com/a/b /src
        EOF
        """,
        [(4, 1)],
        id="DF004-heredoc",
    ),
    # DF005
    pytest.param(
        "DF005",
        "FROM alpine:3.22\nRUN curl -fsSLo /t.tgz https://github.com/a/b/archive/refs/heads/master.tar.gz\n",
        [(2, 24)],
        id="DF005-master-archive",
    ),
    pytest.param(
        "DF005",
        "FROM alpine:3.22\nRUN wget -q https://github.com/a/b/releases/latest/download/b-linux.tgz\n",
        [(2, 13)],
        id="DF005-latest-release",
    ),
    pytest.param(
        "DF005",
        "FROM alpine:3.22\nADD https://example.com/get?ref=main /src/get\n",
        [(2, 5)],
        id="DF005-add-url-query",
    ),
    pytest.param(
        "DF005",
        'FROM alpine:3.22\nADD --chmod=755 "https://example.com/main/run.sh" "/run.sh"\n',
        [(2, 18)],
        id="DF005-add-quoted-url",
    ),
    # DF006
    pytest.param(
        "DF006",
        r"""
        FROM alpine:3.22
        RUN apk add --no-cache curl \
         && curl -fsSL https://example.com/dl/tool-1.2.3.tar.gz | tar xz
        """,
        [(3, 16)],
        id="DF006-continuation-line",
    ),
    pytest.param(
        "DF006",
        "FROM alpine:3.22\nADD https://example.com/v2.0/tool /usr/local/bin/tool\n",
        [(2, 5)],
        id="DF006-add-url",
    ),
    pytest.param(
        "DF006",
        r"""
        FROM alpine:3.22
        RUN case "$(apk --print-arch)" in \
              armhf) url='https://example.com/tool-1.21.3-armv6l.tgz' ;; \
              armv7) url='https://example.com/tool-1.21.3-armv6l.tgz' ;; \
            esac; \
            wget -O go.tgz "$url"
        """,
        [(3, 19), (4, 19)],
        id="DF006-same-url-twice-in-one-run",
    ),
    # DF012
    pytest.param("DF012", "FROM alpine:3.22\nADD app.py /app/\n", [(2, 1)], id="DF012-local-file"),
    pytest.param("DF012", "FROM alpine:3.22\nADD --chown=app src/ conf/ /app/\n", [(2, 1)], id="DF012-flags"),
    pytest.param("DF012", 'FROM alpine:3.22\nADD ["app.py", "/app/"]\n', [(2, 1)], id="DF012-exec-form"),
    # DF012: `ADD $FILE` whose ARG default is a local file
    pytest.param(
        "DF012",
        "FROM alpine:3.20\nARG FILE=conf/app.ini\nADD ${FILE} /etc/app.ini\nUSER app\n",
        [(3, 1)],
        id="DF012-arg-local-file",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
    # DF004
    pytest.param("DF004", "FROM alpine:3.22\nRUN git clone --branch ${VERSION} https://x/b\n", id="DF004-branch-arg"),
    pytest.param("DF004", "FROM alpine:3.22\nRUN git clone -b v1.2.0 https://x/b\n", id="DF004-branch-tag"),
    pytest.param(
        "DF004",
        "FROM alpine:3.22\nRUN git clone https://x/b && cd b && git checkout v1.2\n",
        id="DF004-checkout-same-run",
    ),
    pytest.param(
        "DF004",
        "FROM alpine:3.22\nRUN git clone https://x/b\nRUN git -C b checkout 1a2b3c4\n",
        id="DF004-checkout-later",
    ),
    pytest.param("DF004", "FROM alpine:3.22\nRUN echo 'git clone https://x/b'\n", id="DF004-quoted-text"),
    # DF005
    pytest.param(
        "DF005",
        "FROM alpine:3.22\nRUN curl -fsSLO https://github.com/a/b/releases/download/v1.2.3/b.tgz\n",
        id="DF005-fixed-release",
    ),
    pytest.param("DF005", "FROM alpine:3.22\nRUN wget https://example.com/mainline/tool.tgz\n", id="DF005-mainline"),
    pytest.param(
        "DF005",
        "FROM alpine:3.22\nARG REF=v1\nRUN curl -fsSLO https://example.com/archive/${REF}.tar.gz\n",
        id="DF005-version-from-arg",
    ),
    # DF006
    pytest.param(
        "DF006",
        "FROM alpine:3.22\nARG APP_VERSION=1.2.3\nRUN curl -fsSL https://example.com/t-${APP_VERSION}.tgz | tar xz\n",
        id="DF006-version-from-arg",
    ),
    pytest.param("DF006", "FROM alpine:3.22\nRUN echo see https://example.com/docs/1.2/\n", id="DF006-not-fetched"),
    pytest.param("DF006", "FROM alpine:3.22\nRUN curl -fsSLO https://example.com/tool.tgz\n", id="DF006-no-version"),
    pytest.param(
        "DF006",
        "FROM alpine:3.22\nRUN curl -fsSLO https://example.com/latest/tool-1.2.tgz\n",
        id="DF006-moving-target-is-DF005s",
    ),
    # DF012
    pytest.param("DF012", "FROM alpine:3.22\nADD rootfs.tar.gz /\n", id="DF012-archive"),
    pytest.param("DF012", "FROM alpine:3.22\nADD https://example.com/x.txt /x.txt\n", id="DF012-url"),
    pytest.param("DF012", "FROM alpine:3.22\nADD git@github.com:a/b.git /src\n", id="DF012-git"),
    pytest.param(
        "DF012", 'FROM alpine:3.22\nADD --chmod=755 "https://example.com/run.sh" "/run.sh"\n', id="DF012-quoted-url"
    ),
    pytest.param("DF012", "FROM alpine:3.22\nCOPY app.py /app/\n", id="DF012-copy"),
    pytest.param(
        "DF012",
        "FROM alpine:3.20\nARG BASE=https://example.org/dl\nARG URL=${BASE}/app.tar.gz\nADD $URL /tmp/\n"
        "ARG FROM_CLI\nADD ${FROM_CLI} /tmp/\nUSER app\n",
        id="DF012-arg-url-or-unknown",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
