"""CT001-CT004, the rules of TLS services that are not web services: each fires where it should
(file:line:column) and stays quiet on its near miss, on real files of the corpus where there is one."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.lint.rules import certs

from helpers.lint import COMPOSE, assert_compose_fires, assert_compose_near_miss, lint_tree, rule_hits, rules_of

CORPUS = Path(__file__).parents[2] / "corpus" / "compose"
MAILSERVER = (CORPUS / "docker-mailserver__docker-mailserver__compose.yaml").read_text()
UPTIME_KUMA = (CORPUS / "louislam__uptime-kuma__docker_traefik_docker-compose.yaml").read_text()
TRAEFIK_V1 = (CORPUS / "traefik__traefik__examples_acme_docker-compose.yaml").read_text()
CONFIG = {"darse.toml": 'proxy_network = "docker_default"\n'}

LDAP = """\
services:
  app:
    image: example/ldap:1.0
    restart: unless-stopped
    init: true
    ports:
      - 636:636
    volumes:
      - certs:/etc/ldap/tls
    labels:
      darse.certs.domains: {domains}
      darse.certs.dir: /etc/ldap/tls
{extra}volumes:
  certs:
"""
ROUTER = """\
      traefik.enable: "true"
      traefik.http.routers.app-cert.rule: Host(`ldap.example.org`)
      traefik.http.routers.app-cert.tls.certresolver: le
      traefik.http.routers.app-cert.service: noop@internal
"""


def ldap(domains: str = "ldap.example.org", extra: str = "") -> str:
    return LDAP.format(domains=domains, extra=extra)


def test_the_module_is_covered() -> None:
    assert rules_of(certs) == {"CT001", "CT002", "CT003", "CT004"}


# --- CT001: a TLS port without labels ---------------------------------------------------------------


def test_mailserver_of_the_corpus_publishes_tls_ports_without_labels(lint) -> None:
    """docker-mailserver's own compose.yaml: 465, 587 and 993 are TLS ports, 25 and 143 are not
    reported (plain protocols that may upgrade); the finding points at the first TLS port (line 13)."""
    result = lint({COMPOSE: MAILSERVER, **CONFIG})
    assert rule_hits(result, "CT001") == [(COMPOSE, 13, 9)]
    [finding] = [f for f in result.findings if f.rule == "CT001"]
    assert "465 (SMTPS), 587 (SMTP submission, STARTTLS), 993 (IMAPS)" in finding.message


def test_mailserver_with_labels_is_a_near_miss(lint) -> None:
    labelled = MAILSERVER.replace(
        "    restart: always\n",
        "    restart: always\n    labels:\n      darse.certs.domains: mail.example.com\n"
        "      darse.certs.dir: /tmp/docker-mailserver/ssl\n",
    )
    result = lint({COMPOSE: labelled, **CONFIG})
    assert rule_hits(result, "CT001") == [] and rule_hits(result, "DC000") == []
    assert rule_hits(result, "CT004") == [], "the folder is inside the ./docker-data/dms/config bind mount"


@pytest.mark.parametrize(
    ("ports", "where"),
    [
        ('      - "636:636"\n', [(7, 9)]),
        ("      - target: 8883\n        published: 18883\n", [(7, 9)]),
        ('      - "389:389"\n      - "10636:636"\n', [(8, 9)]),
        ('      - "990-995:990-995"\n', [(7, 9)]),
    ],
)
def test_tls_ports_short_long_and_ranges(lint, ports: str, where: list[tuple[int, int]]) -> None:
    compose = "services:\n  app:\n    image: example/app:1.0\n    restart: unless-stopped\n    init: true\n"
    assert_compose_fires(lint, "CT001", compose + "    ports:\n" + ports, CONFIG, where)


@pytest.mark.parametrize(
    "ports",
    [
        '      - "127.0.0.1:636:636"\n',  # loopback: an SSH tunnel's business
        '      - "636:389"\n',  # the container speaks plain LDAP, whatever the host port
        '      - "993:993/udp"\n',
        '      - "389:389"\n      - "143:143"\n      - "25:25"\n',
    ],
)
def test_tls_port_near_misses(lint, ports: str) -> None:
    compose = "services:\n  app:\n    image: example/app:1.0\n    restart: unless-stopped\n    init: true\n"
    assert_compose_near_miss(lint, "CT001", compose + "    ports:\n" + ports, CONFIG)


def test_the_reverse_proxy_itself_is_left_alone(lint) -> None:
    compose = "services:\n  proxy:\n    image: traefik:v3.1\n    restart: unless-stopped\n    init: true\n"
    assert_compose_near_miss(lint, "CT001", compose + "    ports:\n      - 993:993\n", CONFIG)


# --- CT002: a domain no router requests --------------------------------------------------------------


def test_consumer_without_router(lint) -> None:
    assert_compose_fires(lint, "CT002", ldap(), CONFIG, [(11, 28)])


def test_router_on_the_consumer_itself(lint) -> None:
    assert_compose_near_miss(lint, "CT002", ldap(extra=ROUTER), CONFIG)


def test_router_of_the_corpus_in_another_folder_with_tls_domains(lint) -> None:
    """uptime-kuma's Traefik example: list-form labels, `tls.domains[0].main` and resolver lets-encr."""
    files = {"uptime/compose.yaml": UPTIME_KUMA, **CONFIG}
    assert_compose_near_miss(lint, "CT002", ldap("uptime.yourdomain.com"), files)
    assert_compose_fires(lint, "CT002", ldap("other.yourdomain.com"), files, [(11, 28)])


def test_resolver_must_be_the_consumers(lint) -> None:
    files = {"uptime/compose.yaml": UPTIME_KUMA}
    wrong = {"darse.toml": '[certs]\nresolver = "le"\n', **files}
    assert_compose_fires(lint, "CT002", ldap("uptime.yourdomain.com"), wrong, [(11, 28)])
    right = {"darse.toml": '[certs]\nresolver = "lets-encr"\n', **files}
    assert_compose_near_miss(lint, "CT002", ldap("uptime.yourdomain.com"), right)
    labelled = ldap("uptime.yourdomain.com", extra="      darse.certs.resolver: lets-encr\n")
    assert_compose_near_miss(lint, "CT002", labelled, wrong)


def test_traefik_v1_frontend_rule_of_the_corpus(lint) -> None:
    """Traefik's own ACME example (v1 labels, the guide's Traefik): `frontend.rule=Host:...` requests."""
    files = {"traefik/compose.yaml": TRAEFIK_V1, **CONFIG}
    assert_compose_near_miss(lint, "CT002", ldap("traefik.localhost.com"), files)
    assert_compose_fires(lint, "CT002", ldap("boulder.localhost.com"), files, [(11, 28)])


def test_wildcards_count_by_rfc_6125(lint) -> None:
    wildcard = ROUTER.replace(
        "      traefik.http.routers.app-cert.service",
        '      traefik.http.routers.app-cert.tls.domains[0].main: "example.org"\n'
        '      traefik.http.routers.app-cert.tls.domains[0].sans: "*.example.org"\n'
        "      traefik.http.routers.app-cert.service",
    )
    assert_compose_near_miss(lint, "CT002", ldap("ldap.example.org,Example.ORG", extra=wildcard), CONFIG)
    assert_compose_fires(lint, "CT002", ldap("a.b.example.org", extra=wildcard), CONFIG, [(11, 28)])


def test_router_without_resolver_or_disabled_requests_nothing(lint) -> None:
    plain = ROUTER.replace("      traefik.http.routers.app-cert.tls.certresolver: le\n", "")
    assert_compose_fires(lint, "CT002", ldap(extra=plain), CONFIG, [(11, 28)])
    disabled = ROUTER.replace('traefik.enable: "true"', 'traefik.enable: "false"')
    assert_compose_fires(lint, "CT002", ldap(extra=disabled), CONFIG, [(11, 28)])


# --- CT003: invalid labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "needle"),
    [
        ('      darse.certs.owner: "openldap"\n', "numeric uid:gid"),
        ('      darse.certs.mode: "0644"\n', "every user"),
        ('      darse.certs.mode: "rw"\n', "octal"),
        ('      darse.certs.reload: "signal:KILL"\n', "signal"),
        ('      darse.certs.reload: "reboot"\n', "none of restart"),
        ('      darse.certs.reload: "exec:\'unclosed"\n', "unclosed quote"),
        ('      darse.certs.files: "cert=cert.pem"\n', "no key file"),
        ('      darse.certs.files: "cert=../cert.pem,key=key.pem"\n', "plain file name"),
        ('      darse.certs.files: "cert=a.pem,key=a.pem"\n', "two files the name a.pem"),
        ('      darse.certs.file: "cert=cert.pem"\n', "did you mean darse.certs.files"),
    ],
)
def test_invalid_labels(lint, label: str, needle: str) -> None:
    result = lint({COMPOSE: ldap(extra=ROUTER + label), **CONFIG})
    assert rule_hits(result, "CT003") == [(COMPOSE, 17, 7 + len(label.split(":")[0].strip()) + 2)]
    assert needle in next(f.message for f in result.findings if f.rule == "CT003")


def test_invalid_domains_and_missing_dir(lint) -> None:
    result = lint(
        {
            COMPOSE: ldap("ldap.example.org,bad_name.example.org").replace(
                "      darse.certs.dir: /etc/ldap/tls\n", ""
            ),
            **CONFIG,
        }
    )
    messages = [f.message for f in result.findings if f.rule == "CT003"]
    assert rule_hits(result, "CT003") == [(COMPOSE, 11, 28), (COMPOSE, 11, 28)]
    assert "bad_name.example.org" in messages[0] or "bad_name.example.org" in messages[1]
    assert any("darse.certs.dir is missing" in m for m in messages)


def test_valid_labels_are_a_near_miss(lint) -> None:
    labels = (
        '      darse.certs.owner: "389:389"\n      darse.certs.mode: "0640"\n'
        '      darse.certs.reload: "exec:/usr/sbin/slapd-reload --soft"\n'
        '      darse.certs.files: "cert=ldap.crt,key=ldap.key,chain=ca.crt,combined=all.pem"\n'
        "      darse.certs.resolver: le\n"
    )
    assert_compose_near_miss(lint, "CT003", ldap(extra=ROUTER + labels), CONFIG)


# --- CT004: the folder outside the service's volumes -----------------------------------------------------


def test_dir_outside_every_mount(lint) -> None:
    outside = ldap(extra=ROUTER).replace("certs:/etc/ldap/tls", "certs:/var/lib/ldap")
    assert_compose_fires(lint, "CT004", outside, CONFIG, [(12, 24)])
    tmpfs = ldap(extra=ROUTER).replace(
        "      - certs:/etc/ldap/tls\n", "      - type: tmpfs\n        target: /etc/ldap\n"
    )
    assert_compose_fires(lint, "CT004", tmpfs, CONFIG, [(13, 24)])


def test_dir_inside_a_volume_or_bind_mount(lint) -> None:
    assert_compose_near_miss(lint, "CT004", ldap(extra=ROUTER), CONFIG)
    deeper = ldap(extra=ROUTER).replace("certs:/etc/ldap/tls", "./tls:/etc/ldap:ro")
    assert_compose_near_miss(lint, "CT004", deeper, {**CONFIG, "app/tls/.keep": ""})


def test_swarm_targets_receive_secrets_instead(lint) -> None:
    outside = ldap(extra=ROUTER).replace("certs:/etc/ldap/tls", "certs:/var/lib/ldap")
    swarm = '[targets.cluster]\nkind = "swarm"\ncontext = "swarm"\n[services.app]\ntarget = "cluster"\n'
    result = lint({COMPOSE: outside, "darse.toml": swarm})
    assert rule_hits(result, "CT004") == []


def test_whole_repository_lints_once_per_consumer(tmp_path: Path) -> None:
    """Many folders, routers in one of them: CT002 reads the routers of the repository once, right."""
    files = {"darse.toml": 'proxy_network = "docker_default"\n', "uptime/compose.yaml": UPTIME_KUMA}
    for index in range(5):
        files[f"ldap{index}/compose.yaml"] = ldap("uptime.yourdomain.com" if index % 2 else f"x{index}.example.org")
    result = lint_tree(tmp_path, files)
    assert sorted(f.path for f in result.findings if f.rule == "CT002") == [
        "ldap0/compose.yaml",
        "ldap2/compose.yaml",
        "ldap4/compose.yaml",
    ]
