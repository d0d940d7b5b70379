"""Compose rules DC000-DC020: each fires where it should, at the exact place, and not on near misses.

Every case lints a real service folder `app/` holding `compose.yaml` (plus the extra files a case needs,
by path from the repository root) and compares the full list of one rule's findings, so an extra,
missing or misplaced finding fails. Near misses of the other rules also check that the file was read
(no DC000): rules never see a file the parser refused, and such a near miss would pass for the wrong
reason. The end of the file covers inline ignore comments and darse.toml's `[lint]` settings.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from darse.errors import DarseError
from darse.lint.linter import LintResult
from darse.lint.rule import RULES, Severity

from conftest import GOOD_SERVICE, rule_hits

COMPOSE = "app/compose.yaml"
Lint = Callable[..., LintResult]

# Restart policy and init supplied by a YAML merge key, as many real files do.
MERGED_DEFAULTS = """
x-defaults: &defaults
  restart: unless-stopped
  init: true
services:
  app:
    <<: *defaults
    image: example/app:1.0
"""


def lint_compose(lint: Lint, compose: str, files: dict[str, str] | None = None) -> LintResult:
    """Lint `app/compose.yaml` with extra files given by path from the repository root."""
    return lint({COMPOSE: compose, **(files or {})})


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
    # DC000: what Compose refuses is reported where it is written
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:1.0
            restart: unless-stopped
            restart: always
        """,
        {},
        [(5, 5)],
        id="DC000-duplicate-key",
    ),
    pytest.param("DC000", "- app\n- db\n", {}, [(1, 1)], id="DC000-not-a-mapping"),
    pytest.param(
        "DC000", "services:\n  app:\n    image: [example/app:1.0\n", {}, [(3, 1)], id="DC000-unclosed-flow-sequence"
    ),
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:${TAG:?set TAG in .env}
        """,
        {},
        [(3, 12)],
        id="DC000-required-variable-unset",
    ),
    # DC001
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG}
        """,
        {},
        [(3, 12)],
        id="DC001-braced",
    ),
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:1.0
            environment:
              GREETING: hello $NAME
        """,
        {"app/.env": "OTHER=1\n"},
        [(5, 17)],
        id="DC001-bare-not-in-env-file",
    ),
    # DC002 / DC003: below 3.7 is DC002 (at the value), from 3.7 on only DC003 (at the key)
    pytest.param("DC002", 'version: "3.6"\n' + GOOD_SERVICE.lstrip(), {}, [(1, 10)], id="DC002-3.6"),
    pytest.param("DC002", "version: '2'\n" + GOOD_SERVICE.lstrip(), {}, [(1, 10)], id="DC002-2"),
    pytest.param("DC003", 'version: "3.8"\n' + GOOD_SERVICE.lstrip(), {}, [(1, 1)], id="DC003-3.8"),
    pytest.param("DC003", "version: '3.7'\n" + GOOD_SERVICE.lstrip(), {}, [(1, 1)], id="DC003-3.7"),
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
    # DC006
    pytest.param(
        "DC006",
        """
        services:
          web:
            image: nginx:1.27
            ports:
              - "8080:80"
              - "127.0.0.1:8443:443"
              - 3000
        """,
        {},
        [(5, 9), (7, 9)],
        id="DC006-web-image",
    ),
    pytest.param(
        "DC006",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.enable: "true"
            ports:
              - target: 80
                published: 8080
        """,
        {},
        [(7, 9)],
        id="DC006-traefik-labels-long-syntax",
    ),
    # DC007
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
            networks:
              - backend
        networks:
          backend:
        """,
        {},
        [(7, 7)],
        id="DC007-other-network",
    ),
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.enable: true
        """,
        {},
        [(2, 3)],
        id="DC007-no-networks",
    ),
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
            networks:
              - docker_default
        networks:
          docker_default:
            external: true
        """,
        {"darse.toml": 'proxy_network = "web"\n'},
        [(7, 7)],
        id="DC007-proxy-network-from-darse-toml",
    ),
    # DC008
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - docker_default
        networks:
          docker_default:
            driver: bridge
        """,
        {},
        [(7, 3)],
        id="DC008-declared-not-external",
    ),
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - docker_default
        """,
        {},
        [(5, 9)],
        id="DC008-used-not-declared",
    ),
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - proxy
        networks:
          proxy:
            name: docker_default
        """,
        {},
        [(7, 3)],
        id="DC008-alias-not-external",
    ),
    # DC009
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.http.routers.app.rule: Host(`app.example.org`)
        """,
        {},
        [(5, 7)],
        id="DC009-not-enabled",
    ),
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
              - traefik.http.services.app.loadbalancer.server.port=80
        """,
        {},
        [(5, 7)],
        id="DC009-no-rule",
    ),
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.enable: "true"
              traefik.frontend.rule: Host:app.example.org
        """,
        {},
        [(6, 30)],
        id="DC009-v1-without-port",
    ),
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
              - traefik.http.routers.app.entrypoints=websecure
              - traefik.http.routers.app.service=app-svc
        """,
        {},
        [(5, 7), (7, 9)],
        id="DC009-router-without-rule-and-undefined-service",
    ),
    # DC010
    pytest.param(
        "DC010",
        """
        services:
          db:
            image: postgres:16
            networks:
              - docker_default
            ports:
              - "5432:5432"
        """,
        {},
        [(5, 9), (7, 9)],
        id="DC010-proxy-network-and-port",
    ),
    pytest.param(
        "DC010",
        """
        services:
          cache:
            image: redis:7.4
            networks:
              proxy:
        networks:
          proxy:
            external: true
            name: docker_default
        """,
        {},
        [(5, 7)],
        id="DC010-proxy-network-under-another-key",
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
    # DC006: web ports on evidence (convention, the image's own web port, Traefik's port)
    pytest.param(
        "DC006",
        """
        services:
          vaultwarden:
            image: vaultwarden/server:1.32.5
            ports:
              - "8888:80"
          adguard:
            image: adguard/adguardhome:v0.107.55
            ports:
              - "53:53/tcp"
              - "53:53/udp"
              - "8080:80/tcp"
              - "3000:3000/tcp"
          kuma:
            image: louislam/uptime-kuma:1.23.16
            ports:
              - "3001:3001"
          app:
            image: example/app:1.0
            labels:
              - traefik.http.services.app.loadbalancer.server.port=7000
            ports:
              - "7000:7000"
        """,
        {},
        [(5, 9), (11, 9), (12, 9), (16, 9), (22, 9)],
        id="DC006-evidence",
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
    result = lint_compose(lint, compose, files)
    expected = [where if len(where) == 3 else (COMPOSE, *where) for where in positions]  # (path, line, col) too
    assert rule_hits(result, rule) == expected


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
    pytest.param(  # seen in nextcloud/docker's examples: the proxy is built FROM jwilder/nginx-proxy
        "DC006",
        """
        services:
          proxy:
            build: ./proxy
            image: example/proxy:1.0
            restart: unless-stopped
            init: true
            ports:
              - 80:80
              - 443:443
        """,
        {"app/proxy/Dockerfile": "FROM jwilder/nginx-proxy:1.6.4-alpine\nCOPY uploadsize.conf /etc/nginx/conf.d/\n"},
        id="DC006-proxy-built-on-a-known-proxy",
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
    # DC000
    pytest.param("DC000", MERGED_DEFAULTS, {}, id="DC000-merge-key"),
    pytest.param(
        "DC000",
        """
        services:
          app:
            image: example/app:${TAG:?set TAG in .env}
        """,
        {"app/.env": "TAG=1.0\n"},
        id="DC000-required-variable-set",
    ),
    # DC001
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG:-1.0}
            command: sh -c 'echo $$HOME'
        """,
        {},
        id="DC001-default-and-escaped-dollar",
    ),
    pytest.param(
        "DC001",
        """
        services:
          app:
            image: example/app:${TAG}
            environment:
              GREETING: hello $NAME
        """,
        {"app/.env": "TAG=1.0\nNAME=world\n"},
        id="DC001-set-in-env-file",
    ),
    # DC002 / DC003
    pytest.param("DC002", GOOD_SERVICE, {}, id="DC002-no-version"),
    pytest.param("DC002", 'version: "3.7"\n' + GOOD_SERVICE.lstrip(), {}, id="DC002-3.7-is-DC003s"),
    pytest.param("DC003", GOOD_SERVICE, {}, id="DC003-no-version"),
    pytest.param("DC003", 'version: "3.6"\n' + GOOD_SERVICE.lstrip(), {}, id="DC003-3.6-is-DC002s"),
    # DC004 / DC005: a merge key counts
    pytest.param("DC004", MERGED_DEFAULTS, {}, id="DC004-merge-key"),
    pytest.param("DC004", GOOD_SERVICE.replace("unless-stopped", '"unless-stopped"'), {}, id="DC004-quoted"),
    pytest.param("DC005", MERGED_DEFAULTS, {}, id="DC005-merge-key"),
    pytest.param("DC005", GOOD_SERVICE, {}, id="DC005-init-true"),
    # DC006
    pytest.param(
        "DC006",
        """
        services:
          web:
            image: nginx:1.27
            ports:
              - "127.0.0.1:8080:80"
              - "[::1]:8081:80"
              - target: 443
                published: 8443
                host_ip: 127.0.0.1
        """,
        {},
        id="DC006-loopback-only",
    ),
    pytest.param(
        "DC006",
        """
        services:
          traefik:
            image: traefik:v3.1
            labels:
              - traefik.enable=true
            ports:
              - "80:80"
              - "443:443"
        """,
        {},
        id="DC006-traefik-itself",
    ),
    pytest.param(
        "DC006",
        """
        services:
          sftp:
            image: example/sftp:1.0
            ports:
              - "2222:22"
        """,
        {},
        id="DC006-not-web",
    ),
    # DC007
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
            networks:
              - web
        networks:
          web:
            external: true
        """,
        {"darse.toml": 'proxy_network = "web"\n'},
        id="DC007-proxy-network-from-darse-toml",
    ),
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.enable: "true"
            networks:
              default:
              docker_default:
        networks:
          docker_default:
            external: true
        """,
        {},
        id="DC007-mapping-form",
    ),
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=true
            networks:
              - proxy
        networks:
          proxy:
            external:
              name: docker_default
        """,
        {},
        id="DC007-proxy-network-under-another-key",
    ),
    pytest.param(
        "DC007",
        """
        services:
          app:
            image: example/app:1.0
            network_mode: host
            labels:
              - traefik.enable=true
        """,
        {},
        id="DC007-network-mode",
    ),
    # DC008
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - docker_default
        networks:
          docker_default:
            external: true
        """,
        {},
        id="DC008-external-true",
    ),
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - docker_default
        networks:
          docker_default:
            external:
              name: docker_default
        """,
        {},
        id="DC008-legacy-external-name",
    ),
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - proxy
        networks:
          proxy:
            external:
              name: docker_default
        """,
        {},
        id="DC008-legacy-external-name-under-another-key",
    ),
    pytest.param(
        "DC008",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - backend
        networks:
          backend:
        """,
        {},
        id="DC008-private-network",
    ),
    # DC009
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              traefik.enable: "true"
              traefik.frontend.rule: Host:app.example.org
              traefik.port: "8080"
        """,
        {},
        id="DC009-complete-v1",
    ),
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - "traefik.enable=true"
              - "traefik.http.routers.app.rule=Host(`app.example.org`) && PathPrefix(`/a=b`)"
              - "traefik.http.routers.app.tls.certresolver=le"
              - "traefik.http.routers.app.service=app-svc"
              - "traefik.http.services.app-svc.loadbalancer.server.port=8080"
              - "traefik.http.routers.dash.rule=Host(`traefik.example.org`)"
              - "traefik.http.routers.dash.service=api@internal"
        """,
        {},
        id="DC009-complete-v2-list",
    ),
    pytest.param(
        "DC009",
        """
        services:
          app:
            image: example/app:1.0
            labels:
              - traefik.enable=false
              - traefik.http.routers.app.entrypoints=websecure
        """,
        {},
        id="DC009-explicitly-disabled",
    ),
    # DC010
    pytest.param(
        "DC010",
        """
        services:
          db:
            image: postgres:16
            networks:
              - db
            ports:
              - "127.0.0.1:5432:5432"
        networks:
          db:
        """,
        {},
        id="DC010-own-network-loopback-port",
    ),
    pytest.param(
        "DC010",
        """
        services:
          app:
            image: example/app:1.0
            networks:
              - docker_default
            ports:
              - "8080:8080"
        """,
        {},
        id="DC010-not-a-database",
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
    # DC006: protocols Traefik's HTTP routers cannot carry, and the proxies themselves
    pytest.param(
        "DC006",
        """
        services:
          pihole:
            image: pihole/pihole:2024.07.0
            ports:
              - "53:53/tcp"
              - "53:53/udp"
              - "67:67/udp"
          gitea:
            image: gitea/gitea:1.22.3
            labels:
              - traefik.enable=true
              - traefik.http.services.gitea.loadbalancer.server.port=3000
            ports:
              - "2222:22"
          wireguard:
            image: lscr.io/linuxserver/wireguard:1.0.20210914
            ports:
              - 51820:51820/udp
          mail:
            image: mailserver/docker-mailserver:14.0.0
            ports:
              - "25:25"
              - "143:143"
              - "465:465"
              - "587:587"
              - "993:993"
          ldap:
            image: osixia/openldap:1.5.0
            ports:
              - "389:389"
              - "636:636"
          caddy:
            image: caddy:2.8.4
            ports:
              - "80:80"
              - "443:443"
              - "443:443/udp"
          php:
            image: php:8.3-fpm
            ports:
              - "9000:9000"
        """,
        {},
        id="DC006-non-http-protocols-and-proxies",
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
    result = lint_compose(lint, compose, files)
    assert rule_hits(result, rule) == []
    if rule != "DC000":
        assert rule_hits(result, "DC000") == [], "the file must parse for the near miss to mean anything"


def test_every_compose_rule_has_true_positives_and_near_misses() -> None:
    compose_rules = {rule for rule in RULES if rule.startswith("DC")}
    assert {case.values[0] for case in TRUE_POSITIVES} == compose_rules
    assert {case.values[0] for case in NEAR_MISSES} == compose_rules


def test_good_service_is_clean(lint: Lint) -> None:
    result = lint_compose(lint, GOOD_SERVICE, {"app/README.md": "# app\n"})
    assert result.findings == []


# --- inline ignores ------------------------------------------------------------------------------

RESTART_ALWAYS = """
services:
  app:
    image: example/app:1.0
    restart: always{same_line}
    init: true
"""


@pytest.mark.parametrize(
    ("compose", "expected"),
    [
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[DC004]"), [], id="end-of-line"),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[restart-policy]"), [], id="by-name"),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[all]"), [], id="all"),
        pytest.param(
            RESTART_ALWAYS.format(same_line="").replace("    restart:", "    # darse: ignore[dc004]\n    restart:"),
            [],
            id="line-above-any-case",
        ),
        pytest.param(RESTART_ALWAYS.format(same_line="  # darse: ignore[DC005]"), [(4, 14)], id="other-rule"),
        pytest.param(
            RESTART_ALWAYS.format(same_line="").replace("  app:", "  # darse: ignore[DC004]\n  app:"),
            [(5, 14)],
            id="two-lines-above",
        ),
    ],
)
def test_inline_ignore(lint: Lint, compose: str, expected: list[tuple[int, int]]) -> None:
    assert rule_hits(lint_compose(lint, compose), "DC004") == [(COMPOSE, *where) for where in expected]


def test_inline_ignore_above_service_key_silences_only_that_rule(lint: Lint) -> None:
    compose = """
    services:
      # darse: ignore[DC004]
      app:
        image: example/app:1.0
    """
    result = lint_compose(lint, compose)
    assert rule_hits(result, "DC004") == []
    assert rule_hits(result, "DC005") == [(COMPOSE, 3, 3)]


# --- darse.toml [lint] settings ------------------------------------------------------------------

NO_RESTART_NO_INIT = """
services:
  app:
    image: example/app:1.0
"""


def findings_by_rule(result: LintResult, path: str) -> dict[str, Severity]:
    """Severity of each compose rule found in one file (one finding per rule in these cases)."""
    return {f.rule: f.severity for f in result.findings if f.path == path and f.rule.startswith("DC")}


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param("", {"DC004": Severity.WARNING, "DC005": Severity.WARNING}, id="defaults"),
        pytest.param('[lint]\ndisable = ["DC004"]\n', {"DC005": Severity.WARNING}, id="disable-by-id"),
        pytest.param('[lint]\ndisable = ["init-missing"]\n', {"DC004": Severity.WARNING}, id="disable-by-name"),
        pytest.param(
            '[lint]\nseverity = { DC004 = "error", init-missing = "info" }\n',
            {"DC004": Severity.ERROR, "DC005": Severity.INFO},
            id="severity",
        ),
    ],
)
def test_lint_settings(lint: Lint, toml: str, expected: dict[str, Severity]) -> None:
    result = lint_compose(lint, NO_RESTART_NO_INIT, {"darse.toml": toml})
    assert findings_by_rule(result, COMPOSE) == expected


def test_per_path_overrides_apply_only_to_matching_files(lint: Lint) -> None:
    toml = """
    [lint]
    severity = { DC005 = "error" }

    [[lint.per_path]]
    paths = ["legacy/*"]
    disable = ["DC004"]
    severity = { DC005 = "info" }
    """
    result = lint({COMPOSE: NO_RESTART_NO_INIT, "legacy/compose.yaml": NO_RESTART_NO_INIT, "darse.toml": toml})
    assert findings_by_rule(result, COMPOSE) == {"DC004": Severity.WARNING, "DC005": Severity.ERROR}
    assert findings_by_rule(result, "legacy/compose.yaml") == {"DC005": Severity.INFO}


@pytest.mark.parametrize(
    "toml",
    [
        pytest.param('[lint]\ndisable = ["DC999"]\n', id="disable"),
        pytest.param('[lint]\nseverity = { restart-polcy = "info" }\n', id="severity"),
        pytest.param('[[lint.per_path]]\npaths = ["app/*"]\ndisable = ["DC04"]\n', id="per-path"),
    ],
)
def test_unknown_rule_in_darse_toml_is_an_error(lint: Lint, toml: str) -> None:
    with pytest.raises(DarseError, match="unknown rule"):
        lint_compose(lint, GOOD_SERVICE, {"darse.toml": toml})


def test_dc014_escaped_dollar_is_still_a_literal(lint) -> None:
    compose = GOOD_SERVICE + "    environment:\n      DB_PASSWORD: pa$$word\n      API_TOKEN: ${API_TOKEN}\n"
    result = lint({"svc/compose.yaml": compose, "svc/README.md": "# svc\n"})
    assert rule_hits(result, "DC014") == [("svc/compose.yaml", 7, 20)]


# --- real files (tests/corpus/compose): the web ports reported, the other protocols left alone ----


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 80/tcp, 443/tcp and 3000/tcp are AdGuard's web interface; DNS, DoT, DoQ, DNSCrypt and UDP are not
        ("P3Zer0__DNS-cloud-server__adguardhome.Dockerfile.yaml", [(12, 9), (13, 9), (15, 9)]),
        ("dani-garcia__vaultwarden__docker-compose.yaml", [(8, 8)]),
    ],
)
def test_dc006_on_real_files(lint: Lint, name: str, expected: list[tuple[int, int]]) -> None:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "corpus" / "compose" / name).read_text(encoding="utf-8")
    result = lint({COMPOSE: text})
    assert rule_hits(result, "DC006") == [(COMPOSE, *where) for where in expected]
