"""Dockerfile rules: base images (DF001, DF002, DF003, DF015, darse.lint.rules.dockerfile.base_images):
each rule fires where it should, at the exact place, and not on near misses. How a case is linted
and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

import darse.lint.rules.dockerfile.base_images as family

from helpers.lint import (
    DOCKERFILE,
    GOOD_SERVICE,
    Lint,
    assert_dockerfile_fires,
    assert_dockerfile_near_miss,
    case_rules,
    rule_hits,
    rules_of,
)

# (rule, Dockerfile, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
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
]


@pytest.mark.parametrize(("rule", "dockerfile", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(lint: Lint, rule: str, dockerfile: str, positions: list[tuple[int, int]]) -> None:
    assert_dockerfile_fires(lint, rule, dockerfile, positions)


# (rule, Dockerfile) that must not make the rule fire
NEAR_MISSES = [
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
]


@pytest.mark.parametrize(("rule", "dockerfile"), NEAR_MISSES)
def test_near_miss_does_not_fire(lint: Lint, rule: str, dockerfile: str) -> None:
    assert_dockerfile_near_miss(lint, rule, dockerfile)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)


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
