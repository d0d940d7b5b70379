"""Compose rules: the proxy network, Traefik labels, databases kept off both (DC007, DC008, DC009,
DC010, darse.lint.rules.compose.networks): each rule fires where it should, at the exact place, and
not on near misses. How a case is linted and compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.networks as family

from helpers.lint import Lint, assert_compose_fires, assert_compose_near_miss, case_rules, rules_of

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
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
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
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
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)
