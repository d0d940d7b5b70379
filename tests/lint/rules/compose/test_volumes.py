"""Compose rules: volumes and data (DC011, DC012, DC013, darse.lint.rules.compose.volumes): each rule
fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.volumes as family

from helpers.lint import Lint, assert_compose_fires, assert_compose_near_miss, case_rules, rules_of

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
    pytest.param(  # seen in immich's file: an image darse does not know, mounted where PostgreSQL keeps data
        "DC012",
        """
        services:
          database:
            image: tensorchord/pgvecto-rs:pg14-v0.2.0
            volumes:
              - ${UPLOAD_LOCATION:-./upload}/postgres:/var/lib/postgresql/data
        """,
        {},
        [(5, 9)],
        id="DC012-unknown-image-on-a-database-directory",
    ),
    pytest.param(  # the near miss's twin: snapshots off, but an append-only file still written to /data
        "DC012",
        """
        services:
          cache:
            image: redis:7.4-alpine
            command: ["redis-server", "--save", "", "--appendonly", "yes"]
        """,
        {},
        [(2, 3)],
        id="DC012-redis-append-only",
    ),
    # DC011
    pytest.param(
        "DC011",
        """
        services:
          app:
            image: example/app:1.0
        volumes:
          data:
            external: true
          old:
            external:
              name: old-data
        """,
        {},
        [(5, 3), (7, 3)],
        id="DC011-external-and-legacy",
    ),
    # DC012
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: postgres:16
        """,
        {},
        [(2, 3)],
        id="DC012-no-volume",
    ),
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: mariadb:11
            volumes:
              - ./mysql:/var/lib/mysql
        """,
        {"app/mysql/.keep": ""},
        [(5, 9)],
        id="DC012-bind-mount",
    ),
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: postgres:16
            environment:
              PGDATA: /srv/pg
            volumes:
              - db-data:/var/lib/postgresql/data
        volumes:
          db-data:
        """,
        {},
        [(2, 3)],
        id="DC012-pgdata-outside-the-volume",
    ),
    # DC013
    pytest.param(
        "DC013",
        """
        services:
          app:
            image: example/app:1.0
            volumes:
              - ./config/app.ini:/etc/app.ini:ro
              - type: bind
                source: ../shared
                target: /shared
              - type: bind
                source: templates
                target: /templates
        """,
        {},
        [(5, 9), (6, 9), (9, 9)],
        id="DC013-short-and-long-syntax",
    ),
    # DC012: where the image really keeps its data
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: lscr.io/linuxserver/mariadb:11.4.4
            volumes:
              - ./config:/config
          influx:
            image: influxdb:1.8
            volumes:
              - influx:/var/lib/influxdb2
        volumes:
          influx:
        """,
        {"app/config/.keep": ""},
        [(5, 9), (6, 3)],
        id="DC012-linuxserver-bind-and-influxdb-1",
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
        "DC012",
        """
        services:
          database:
            image: tensorchord/pgvecto-rs:pg14-v0.2.0
            volumes:
              - pgdata:/var/lib/postgresql/data
        volumes:
          pgdata:
        """,
        {},
        id="DC012-unknown-image-on-a-named-volume",
    ),
    pytest.param(  # seen in searxng-docker: a cache that starts empty by design keeps nothing in /data
        "DC012",
        """
        services:
          cache:
            image: redis:7.4-alpine
            command: redis-server --save "" --appendonly "no"
        """,
        {},
        id="DC012-redis-with-persistence-off",
    ),
    # DC011
    pytest.param(
        "DC011",
        """
        services:
          app:
            image: example/app:1.0
        volumes:
          data:
            name: app-data
          cache:
            external: false
        """,
        {},
        id="DC011-named-not-external",
    ),
    # DC012
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: postgres:16
            volumes:
              - db-data:/var/lib/postgresql/data/
        volumes:
          db-data:
        """,
        {},
        id="DC012-named-volume",
    ),
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: docker.io/library/postgres:16
            environment:
              - PGDATA=/var/lib/postgresql/data/pgdata
            volumes:
              - type: volume
                source: db-data
                target: /var/lib/postgresql/data
        volumes:
          db-data:
        """,
        {},
        id="DC012-pgdata-below-long-syntax-volume",
    ),
    pytest.param(
        "DC012",
        """
        services:
          cache:
            image: memcached:1.6
        """,
        {},
        id="DC012-database-without-data",
    ),
    # DC013
    pytest.param(
        "DC013",
        """
        services:
          app:
            image: example/app:1.0
            volumes:
              - ./config/app.ini:/etc/app.ini:ro
              - type: bind
                source: config
                target: /config
              - ./app.secrets:/run/secrets/app:ro
              - ./settings.json:/etc/settings.json
              - /srv/data:/data
              - data:/var/lib/app
        volumes:
          data:
        """,
        {"app/config/app.ini": "[app]\n", "app/settings.json.example": "{}\n"},
        id="DC013-present-secret-example-absolute-named",
    ),
    # DC012: the data directory of each image's own layout, on a named volume
    pytest.param(
        "DC012",
        """
        services:
          db:
            image: lscr.io/linuxserver/mariadb:11.4.4
            volumes:
              - config:/config
          influx:
            image: influxdb:1.8
            volumes:
              - influx:/var/lib/influxdb
          influx2:
            image: influxdb:2.7
            volumes:
              - influx2:/var/lib/influxdb2
        volumes:
          config:
          influx:
          influx2:
        """,
        {},
        id="DC012-own-layouts",
    ),
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
