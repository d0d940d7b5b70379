"""Dockerfile rules DF000-DF014: each fires where it should, at the exact place, and not on near misses.

Every case lints a real service folder `app/` (a compose.yaml like GOOD_SERVICE next to a Dockerfile)
and compares the full list of one rule's findings, so an extra, missing or misplaced finding fails.
Near misses also check that the Dockerfile parsed (no DF000): a file the parser refuses is never
checked by the other rules, and such a near miss would pass for the wrong reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from darse.lint.linter import LintResult

from conftest import GOOD_SERVICE, rule_hits

DOCKERFILE = "app/Dockerfile"
Lint = Callable[..., LintResult]

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


def lint_dockerfile(lint: Lint, dockerfile: str, compose: str = GOOD_SERVICE) -> LintResult:
    """Lint `app/Dockerfile` beside `app/compose.yaml`."""
    return lint({"app/compose.yaml": compose, DOCKERFILE: dockerfile})


# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DF000: what BuildKit would refuse is reported where it is written
    pytest.param("DF000", "FORM alpine:3.22\n", [(1, 1)], id="DF000-unknown-instruction"),
    pytest.param("DF000", "ARG V=1\nRUN echo $V\nFROM alpine:3.22\n", [(2, 1)], id="DF000-run-before-from"),
    pytest.param("DF000", "# nothing but a comment\nARG V=1\n", [(1, 1)], id="DF000-no-from"),
    pytest.param("DF000", "FROM alpine:3.22\nUSER app\nFROM\n", [(3, 1)], id="DF000-from-without-image"),
    # DF001
    pytest.param("DF001", "FROM alpine\nUSER app\n", [(1, 6)], id="DF001-no-tag"),
    pytest.param("DF001", "FROM alpine:latest\nUSER app\n", [(1, 6)], id="DF001-latest"),
    pytest.param("DF001", "ARG TAG=latest\nFROM alpine:${TAG}\nUSER app\n", [(2, 6)], id="DF001-latest-via-arg"),
    pytest.param(
        "DF001",
        """
        FROM --platform=$BUILDPLATFORM golang AS build
        FROM alpine:3.22
          FROM alpine AS indented
        USER app
        """,
        [(1, 32), (3, 8)],
        id="DF001-after-platform-flag-and-indent",
    ),
    # DF002: only the final image's base
    pytest.param("DF002", "FROM debian:bookworm\nUSER app\n", [(1, 6)], id="DF002-debian"),
    pytest.param(
        "DF002",
        """
        FROM alpine:3.22 AS build
        FROM --platform=linux/amd64 ubuntu:24.04 AS base
        FROM base
        USER app
        """,
        [(2, 29)],
        id="DF002-final-built-from-big-stage",
    ),
    # DF003 (TODAY is 2026-11-22)
    pytest.param("DF003", "FROM debian:buster-slim\nUSER app\n", [(1, 6)], id="DF003-debian-codename"),
    pytest.param("DF003", "FROM ubuntu:20.04\nUSER app\n", [(1, 6)], id="DF003-ubuntu-version"),
    pytest.param(
        "DF003",
        "FROM node:20-alpine3.17 AS build\nFROM alpine:3.19\nUSER app\n",
        [(1, 6), (2, 6)],
        id="DF003-every-stage",
    ),
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
    # DF012
    pytest.param("DF012", "FROM alpine:3.22\nADD app.py /app/\n", [(2, 1)], id="DF012-local-file"),
    pytest.param("DF012", "FROM alpine:3.22\nADD --chown=app src/ conf/ /app/\n", [(2, 1)], id="DF012-flags"),
    pytest.param("DF012", 'FROM alpine:3.22\nADD ["app.py", "/app/"]\n', [(2, 1)], id="DF012-exec-form"),
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
    # DF001: channel tags move like latest
    pytest.param(
        "DF001",
        "FROM redis:alpine AS a\nFROM node:lts AS b\nFROM nginx:stable AS c\n"
        "FROM example/app:latest-alpine\nUSER app\n",
        [(1, 6), (2, 6), (3, 6), (4, 6)],
        id="DF001-channels",
    ),
    # DF015: major-only tags, ARG defaults resolved
    pytest.param(
        "DF015",
        "ARG NODE=20-bookworm-slim\nFROM alpine:3 AS a\nFROM node:${NODE}\nUSER app\n",
        [(2, 6), (3, 6)],
        id="DF015-major-only",
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
    result = lint_dockerfile(lint, dockerfile)
    assert rule_hits(result, rule) == [(DOCKERFILE, line, column) for line, column in positions]


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
    # DF000: valid even if unusual
    pytest.param("DF000", "from alpine:3.22\nuser app\n", id="DF000-lower-case"),
    pytest.param(
        "DF000", "# syntax=docker/dockerfile:1\nARG TAG=3.22\nFROM alpine:${TAG}\n", id="DF000-directive-and-global-arg"
    ),
    pytest.param("DF000", "FROM alpine:3.22\nRUN <<EOF\necho closed\nEOF\n", id="DF000-closed-heredoc"),
    # DF001
    pytest.param("DF001", "FROM alpine:3.20\n", id="DF001-tag"),
    pytest.param("DF001", "ARG V=3.20\nFROM alpine:${V}\n", id="DF001-tag-from-arg"),
    pytest.param("DF001", "FROM alpine:3.22 AS build\nFROM build\n", id="DF001-earlier-stage"),
    pytest.param("DF001", "FROM alpine:3.22 AS Build\nFROM build\n", id="DF001-earlier-stage-any-case"),
    pytest.param("DF001", "FROM scratch\n", id="DF001-scratch"),
    pytest.param("DF001", "FROM alpine@sha256:" + "0" * 64 + "\n", id="DF001-digest"),
    # DF002
    pytest.param("DF002", "FROM debian:bookworm-slim\n", id="DF002-slim"),
    pytest.param("DF002", "FROM gcr.io/distroless/static-debian12:nonroot\n", id="DF002-distroless"),
    pytest.param("DF002", "FROM golang:1.23 AS build\nFROM scratch\n", id="DF002-big-build-stage-scratch-final"),
    pytest.param("DF002", "FROM ubuntu:24.04 AS build\nFROM alpine:3.22\n", id="DF002-big-build-stage-alpine-final"),
    # DF003
    pytest.param("DF003", "FROM debian:bookworm-slim\n", id="DF003-supported-debian"),
    pytest.param("DF003", "FROM alpine:3.22\n", id="DF003-supported-alpine"),
    pytest.param("DF003", "FROM ubuntu:24.04\n", id="DF003-supported-ubuntu"),
    pytest.param("DF003", "FROM python:3.10-slim-bookworm\n", id="DF003-version-of-a-non-distribution"),
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
    # DF007
    pytest.param("DF007", "FROM debian:bookworm-slim\nARG DEBIAN_FRONTEND=noninteractive\n", id="DF007-arg"),
    pytest.param(
        "DF007",
        "FROM debian:bookworm-slim\nRUN DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends a\n",
        id="DF007-inline",
    ),
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
    # DF012
    pytest.param("DF012", "FROM alpine:3.22\nADD rootfs.tar.gz /\n", id="DF012-archive"),
    pytest.param("DF012", "FROM alpine:3.22\nADD https://example.com/x.txt /x.txt\n", id="DF012-url"),
    pytest.param("DF012", "FROM alpine:3.22\nADD git@github.com:a/b.git /src\n", id="DF012-git"),
    pytest.param(
        "DF012", 'FROM alpine:3.22\nADD --chmod=755 "https://example.com/run.sh" "/run.sh"\n', id="DF012-quoted-url"
    ),
    pytest.param("DF012", "FROM alpine:3.22\nCOPY app.py /app/\n", id="DF012-copy"),
    # DF013
    pytest.param("DF013", "FROM alpine:3.22\nENV DB_PASSWORD_FILE=/run/secrets/x\n", id="DF013-file-reference"),
    pytest.param("DF013", "FROM alpine:3.22\nENV PASSWORD_MIN_LENGTH=8\n", id="DF013-not-a-secret-name"),
    pytest.param("DF013", "FROM alpine:3.22\nARG TOKEN\n", id="DF013-arg-without-default"),
    pytest.param("DF013", "ARG TOKEN\nFROM alpine:3.22\n", id="DF013-global-arg-without-default"),
    pytest.param("DF013", "FROM alpine:3.22\nARG SECRET_KEY=${SECRET_KEY}\n", id="DF013-reference"),
    pytest.param("DF013", 'FROM alpine:3.22\nENV API_KEY="" AUTH_TOKEN=false\n', id="DF013-harmless-values"),
    pytest.param(
        "DF001",
        "FROM debian:bookworm-slim AS a\nFROM debian:bookworm-20241111-slim AS b\nFROM nginx:1.27.3 AS c\n"
        "FROM alpine:3 AS d\nFROM traefik:v2.11\nUSER app\n",
        id="DF001-versions-and-codenames",
    ),
    pytest.param(
        "DF015",
        "FROM alpine:3.20 AS a\nFROM node:20.18-bookworm-slim AS b\nFROM golang:1.23-alpine3.20\nUSER app\n",
        id="DF015-major-minor",
    ),
    pytest.param(
        "DF011",
        "FROM debian:bookworm-slim\nUSER app\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
        "    && rm -rf ${F} /var/lib/apt/lists/*\n",
        id="DF011-braced-variable-then-lists",
    ),
    pytest.param(
        "DF012",
        "FROM alpine:3.20\nARG BASE=https://example.org/dl\nARG URL=${BASE}/app.tar.gz\nADD $URL /tmp/\n"
        "ARG FROM_CLI\nADD ${FROM_CLI} /tmp/\nUSER app\n",
        id="DF012-arg-url-or-unknown",
    ),
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    result = lint_dockerfile(lint, dockerfile)
    assert rule_hits(result, rule) == []
    assert rule_hits(result, "DF000") == []


def test_unparsable_dockerfile_gets_only_df000(lint: Lint) -> None:
    """BuildKit's parser refuses it: the other rules do not guess at the rest of the file."""
    result = lint_dockerfile(lint, "FROM alpine\nRUN <<EOF\napt-get install curl\n")
    findings = [f for f in result.findings if f.rule.startswith("DF")]
    assert [(f.rule, f.message) for f in findings] == [("DF000", "Dockerfile syntax error: unterminated heredoc")]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param('registry = "registry.example.org"\n', [], id="own-registry-trusted"),
        pytest.param('registry = "other.example.org"\n', [(DOCKERFILE, 1, 6)], id="foreign-registry"),
    ],
)
def test_df002_trusts_the_repository_registry(lint: Lint, config: str, expected: list[tuple[str, int, int]]) -> None:
    files = {"darse.toml": config, "app/compose.yaml": GOOD_SERVICE, DOCKERFILE: "FROM registry.example.org/base:1.0\n"}
    assert rule_hits(lint(files), "DF002") == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(dt.date(2026, 8, 31), [], id="last-day-of-support"),
        pytest.param(dt.date(2026, 9, 1), [(DOCKERFILE, 1, 6)], id="day-after"),
    ],
)
def test_eol_depends_on_the_date(lint: Lint, today: dt.date, expected: list[tuple[str, int, int]]) -> None:
    files = {"app/compose.yaml": GOOD_SERVICE, DOCKERFILE: "FROM debian:bullseye-slim\nUSER app\n"}
    assert rule_hits(lint(files, today=today), "DF003") == expected


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


# A RUN whose DF010 finding is on its third line (a continuation line), and which also trips DF011.
IGNORED_RUN = r"""
    FROM debian:bookworm-slim
    USER app
    {comment}
    RUN apt-get update \
     && apt-get install -y curl
    """


@pytest.mark.parametrize(
    ("comment", "df010", "df011"),
    [
        pytest.param("# darse: ignore[DF010]", [], [(4, 5)], id="by-id"),
        pytest.param("# darse: ignore[apt-no-recommends]", [], [(4, 5)], id="by-name"),
        pytest.param("# darse: ignore[df010]", [], [(4, 5)], id="id-in-lower-case"),
        pytest.param("# darse: ignore[DF011, apt-no-recommends]", [], [], id="two-rules"),
        pytest.param("# darse: ignore[DF011]", [(5, 5)], [], id="other-rule-does-not-silence"),
        pytest.param("# darse: ignore[base-image-tag]", [(5, 5)], [(4, 5)], id="other-rule-by-name"),
        pytest.param("# just a comment", [(5, 5)], [(4, 5)], id="plain-comment"),
    ],
)
def test_inline_ignore_above_instruction(
    lint: Lint, comment: str, df010: list[tuple[int, int]], df011: list[tuple[int, int]]
) -> None:
    result = lint_dockerfile(lint, IGNORED_RUN.format(comment=comment))
    assert rule_hits(result, "DF010") == [(DOCKERFILE, *position) for position in df010]
    assert rule_hits(result, "DF011") == [(DOCKERFILE, *position) for position in df011]


def test_inline_ignore_covers_a_heredoc_body(lint: Lint) -> None:
    dockerfile = """
        FROM debian:bookworm-slim
        USER app
        # darse: ignore[DF010]
        RUN <<EOF
        apt-get install -y curl
        EOF
        RUN apt-get install -y git
        """
    assert rule_hits(lint_dockerfile(lint, dockerfile), "DF010") == [(DOCKERFILE, 7, 5)]


def test_inline_ignore_must_be_right_above(lint: Lint) -> None:
    dockerfile = """
        FROM debian:bookworm-slim
        # darse: ignore[DF010]
        USER app
        RUN apt-get install -y curl
        """
    assert rule_hits(lint_dockerfile(lint, dockerfile), "DF010") == [(DOCKERFILE, 4, 5)]


def test_a_trailing_ignore_after_an_instruction_docker_reads_itself_is_reported_not_honoured(lint: Lint) -> None:
    """Seen on a public Dockerfile: `ADD a /b  # darse: ignore[DF012]` gives Docker more arguments (the
    destination becomes `ignore[DF012]`), so darse must not pretend the comment silenced anything."""
    result = lint(
        {
            "app/compose.yaml": GOOD_SERVICE,
            "app/README.md": "# app\n",
            "app/CHANGELOG.md": "## 1.0\n",
            "app/Dockerfile": "FROM alpine:3.22\nUSER app\nADD app.conf /etc/app.conf  # darse: ignore[DF012]\n",
        }
    )
    assert rule_hits(result, "DF012") == [("app/Dockerfile", 3, 1)]
    assert rule_hits(result, "RP008") == [("app/Dockerfile", 3, 29)]


def test_a_trailing_ignore_in_a_run_script_is_a_shell_comment_and_honoured(lint: Lint) -> None:  # near miss
    dockerfile = "FROM debian:bookworm-slim\nUSER app\nRUN apt-get install -y curl  # darse: ignore[DF010,DF011]\n"
    result = lint({"app/compose.yaml": GOOD_SERVICE, "app/README.md": "# app\n", "app/Dockerfile": dockerfile})
    assert rule_hits(result, "DF010") == [] and rule_hits(result, "RP008") == []


def test_ignore_comment_is_case_insensitive(lint) -> None:
    result = lint(
        {
            "app/compose.yaml": GOOD_SERVICE,
            "app/README.md": "# app\n",
            "app/Dockerfile": "# DARSE: IGNORE[DF001]\nFROM alpine\nUSER app\n",
        }
    )
    assert rule_hits(result, "DF001") == []


# --- inline ignores: a trailing comment covers its own line, a comment alone the next one -----------

TRAILING = """
services:
  app:
    image: example/app:1.0
    restart: unless-stopped
    init: true
    environment:
      TZ: Europe/Paris  # darse: ignore[DC014]
      DB_PASSWORD: hunter2hunter2
"""


def test_trailing_ignore_does_not_cover_the_next_line(lint: Lint) -> None:
    result = lint({"app/compose.yaml": TRAILING, "app/README.md": "# app\n"})
    assert rule_hits(result, "DC014") == [("app/compose.yaml", 8, 20)]


def test_comment_alone_covers_the_next_line(lint: Lint) -> None:
    compose = TRAILING.replace("      DB_PASSWORD:", "      # darse: ignore[DC014]\n      DB_PASSWORD:")
    result = lint({"app/compose.yaml": compose, "app/README.md": "# app\n"})
    assert rule_hits(result, "DC014") == []
