"""Compose rules: secrets in the Compose file and tracked env files (DC014, DC019,
darse.lint.rules.compose.secrets): each rule fires where it should, at the exact place, and not on
near misses. How a case is linted and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import darse.lint.rules.compose.secrets as family

from helpers.lint import (
    COMPOSE,
    GOOD_SERVICE,
    Lint,
    assert_compose_fires,
    assert_compose_near_miss,
    case_rules,
    lint_repository,
    rule_hits,
    rules_of,
)

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    # DC014
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              DB_PASSWORD: hunter2
        """,
        {},
        [(5, 20)],
        id="DC014-mapping",
    ),
    pytest.param(  # seen in paperless-ngx and Pi-hole files: the secret word glued to a prefix
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              PAPERLESS_DBPASSWORD: paperless-db-pw
              WEBPASSWORD: admin-web-pw
              DATABASE_URL: postgres://app:s3cret-pw@db/app
        """,
        {},
        [(5, 29), (6, 20), (7, 21)],
        id="DC014-glued-names-and-url-credentials",
    ),
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              - LOG_LEVEL=info
              - API_TOKEN=abc123
              - NOTE=ghp_0123456789abcdefghijklmnopqrstuvwxyz
        """,
        {},
        [(6, 9), (7, 9)],
        id="DC014-list-and-token-shape",
    ),
    # DC014: secret defaults, command lines, Laravel keys, placeholders
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              DB_PASSWORD: ${DB_PASS:-SuperSecret1234}
              APP_KEY: base64:Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6
              ADMIN_TOKEN: <YOUR-TOKEN>
          cache:
            image: redis:7.4.1-alpine
            command: redis-server --requirepass sup3rs3cret
            healthcheck:
              test: ["CMD", "app", "--password=hunter22"]
        """,
        {},
        [(5, 20), (6, 16), (7, 20), (10, 14), (12, 13)],
        id="DC014-defaults-commands-keys-placeholders",
    ),
    # DC019: a password in a tracked env file (outside Git: every file is meant for Git)
    pytest.param(
        "DC019",
        """
        services:
          app:
            image: example/app:${TAG}
            env_file: db.env
        """,
        {
            "app/.env": "TAG=1.0\nDB_PASSWORD=hunter2hunter2\n",
            "app/db.env": "# db\nexport MYSQL_ROOT_PASSWORD=s3cr3t-value\n",
        },
        [("app/.env", 2, 1), ("app/db.env", 2, 8)],
        id="DC019-env-files",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
    pytest.param(  # `-p` is a port for httpd and most servers: only mysql clients read a password there
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            command: ["sh", "-c", "exec httpd -f -p 8080 -h /srv"]
        """,
        {},
        id="DC014-dash-p-is-a-port-outside-mysql",
    ),
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              DATABASE_URL: postgres://app:${DB_PASS}@db/app
              BYPASS_CACHE: "yes"
              REDIS_URL: redis://broker:6379
        """,
        {},
        id="DC014-url-with-a-reference-and-words-ending-in-pass",
    ),
    # DC014
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              DB_PASSWORD: ${DB_PASSWORD}
              API_TOKEN: $API_TOKEN
              SECRET_KEY: ""
              PASSWORD_MIN_LENGTH: 12
        """,
        {"app/.env": "DB_PASSWORD=x\nAPI_TOKEN=y\n"},
        id="DC014-references-and-harmless",
    ),
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              - DB_PASSWORD_FILE=/run/secrets/db
              - POSTGRES_PASSWORD
        """,
        {},
        id="DC014-file-and-passthrough",
    ),
    # DC014: references and run-time expansions are not literals
    pytest.param(
        "DC014",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              DB_PASSWORD: ${DB_PASS:-}
              DB_PORT: ${DB_PORT:-5432}
              APP_KEY: ${APP_KEY}
          cache:
            image: redis:7.4.1-alpine
            command: ["sh", "-c", "exec redis-server --requirepass \\"$$REDIS_PASSWORD\\""]
            healthcheck:
              test: ["CMD", "app", "--password-file=/run/secrets/db"]
        """,
        {},
        id="DC014-references",
    ),
    # DC019: real secret files are RP006's, examples hold placeholders, plain settings are fine
    pytest.param(
        "DC019",
        """
        services:
          app:
            image: example/app:1.0
            env_file: [app.secrets, settings.env]
        """,
        {
            "app/.env": "TAG=1.0\nDB_PASSWORD=${FROM_HOST}\n",
            "app/settings.env": "TZ=Europe/Paris\nDB_PASSWORD_FILE=/run/secrets/db\n",
            "app/app.secrets": "DB_PASSWORD=hunter2hunter2\n",
            "app/app.secrets.example": "DB_PASSWORD=<YOUR-PASSWORD>\n",
        },
        id="DC019-not-env-secrets",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)


def test_dc014_escaped_dollar_is_still_a_literal(lint) -> None:
    compose = GOOD_SERVICE + "    environment:\n      DB_PASSWORD: pa$$word\n      API_TOKEN: ${API_TOKEN}\n"
    result = lint({"svc/compose.yaml": compose, "svc/README.md": "# svc\n"})
    assert rule_hits(result, "DC014") == [("svc/compose.yaml", 7, 20)]


# --- DC019 and Git: only what Git tracks is published -------------------------------------------


ENV_SECRET = {
    COMPOSE: "services:\n  app:\n    image: example/app:1.0\n    restart: unless-stopped\n    init: true\n",
    "app/.env": "DB_PASSWORD=hunter2hunter2\n",
    "app/README.md": "# app\n",
}


@pytest.mark.parametrize(
    ("tracked", "expected"),
    [
        pytest.param(("app/.env",), [("app/.env", 1, 1)], id="tracked"),
        pytest.param((), [], id="untracked-host-file"),
    ],
)
def test_dc019_reports_env_files_git_tracks(
    tmp_path: Path, tracked: tuple[str, ...], expected: list[tuple[str, int, int]]
) -> None:
    result = lint_repository(tmp_path, ENV_SECRET, tracked)
    assert rule_hits(result, "DC019") == expected
    assert all("hunter2" not in f.message for f in result.findings), "a secret must never be printed"
