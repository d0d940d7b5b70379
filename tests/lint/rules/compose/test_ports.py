"""Compose rules: web ports published on the host (DC006, darse.lint.rules.compose.ports): each rule
fires where it should, at the exact place, and not on near misses. How a case is linted and
compared: tests/helpers/lint.py.
"""

from __future__ import annotations

import pytest

import darse.lint.rules.compose.ports as family

from helpers.lint import COMPOSE, Lint, assert_compose_fires, assert_compose_near_miss, case_rules, rule_hits, rules_of

# (rule, compose.yaml, extra files, [(line, column), ...] of every finding of that rule)
TRUE_POSITIVES = [
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
]


@pytest.mark.parametrize(("rule", "compose", "files", "positions"), TRUE_POSITIVES)
def test_rule_fires_at_exact_position(
    lint: Lint, rule: str, compose: str, files: dict[str, str], positions: list[tuple[int, int]]
) -> None:
    assert_compose_fires(lint, rule, compose, files, positions)


# (rule, compose.yaml, extra files) that must not make the rule fire
NEAR_MISSES = [
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
]


@pytest.mark.parametrize(("rule", "compose", "files"), NEAR_MISSES)
def test_rule_does_not_fire_on_near_miss(lint: Lint, rule: str, compose: str, files: dict[str, str]) -> None:
    assert_compose_near_miss(lint, rule, compose, files)


def test_every_rule_of_the_family_has_true_positives_and_near_misses() -> None:
    assert case_rules(TRUE_POSITIVES) == rules_of(family)
    assert case_rules(NEAR_MISSES) == rules_of(family)


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

    text = (Path(__file__).parents[3] / "corpus" / "compose" / name).read_text(encoding="utf-8")
    result = lint({COMPOSE: text})
    assert rule_hits(result, "DC006") == [(COMPOSE, *where) for where in expected]
