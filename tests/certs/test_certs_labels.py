"""The darse.certs labels parsed into a consumer (map and list forms, interpolated from .env), the
mount that receives the files, and darse.toml's [certs] section."""

from __future__ import annotations

from pathlib import Path

import pytest

from darse.certs.acme import configured_acme
from darse.certs.labels import FILE_MODE, CertFile, Reload, consumers, parse_consumer, repository_consumers
from darse.config import CertsSettings, load_config, parse_config
from darse.errors import DarseError
from darse.model.compose import load_compose
from darse.model.repository import open_repository

from helpers.repo import write_tree


def compose(tmp_path: Path, text: str, env: str = "") -> Path:
    (tmp_path / "compose.yaml").write_text(text)
    if env:
        (tmp_path / ".env").write_text(env)
    return tmp_path / "compose.yaml"


LIST_FORM = """\
services:
  mail:
    image: example/mail:1.0
    volumes:
      - type: bind
        source: ./data
        target: /srv/mail
      - certs:/srv/mail/tls/live:ro
    labels:
      - "darse.certs.domains=${MAIL_DOMAIN},IMAP.example.org"
      - "darse.certs.dir=/srv/mail/tls/live/current/"
      - "darse.certs.files=fullchain=server.crt, key=server.key ,combined=haproxy.pem"
      - "darse.certs.owner=5000:8"
      - "darse.certs.mode=640"
      - "darse.certs.reload=exec:/usr/sbin/postfix reload --quiet 'two words'"
      - "darse.certs.resolver=le"
  web:
    image: example/web:1.0
volumes:
  certs:
"""


def test_list_form_interpolated_into_a_consumer(tmp_path: Path) -> None:
    found, problems = consumers(load_compose(compose(tmp_path, LIST_FORM, "MAIL_DOMAIN=Mail.Example.org\n")))
    assert problems == []
    [consumer] = found
    assert consumer.service == "mail"
    assert consumer.domains == ("mail.example.org", "imap.example.org")
    assert consumer.dir == "/srv/mail/tls/live/current"
    assert consumer.files == (
        CertFile("fullchain", "server.crt"),
        CertFile("key", "server.key"),
        CertFile("combined", "haproxy.pem"),
    )
    assert (consumer.uid, consumer.gid, consumer.key_mode, consumer.resolver) == (5000, 8, 0o640, "le")
    assert consumer.reload == Reload("exec", command=("/usr/sbin/postfix", "reload", "--quiet", "two words"))
    assert (consumer.mount.kind, consumer.mount.source, consumer.mount.target) == (
        "volume",
        "certs",
        "/srv/mail/tls/live",
    )
    assert consumer.subpath == "current", "the deepest mount holding the folder wins, and the path inside it"
    assert [consumer.mode_of(f) for f in consumer.files] == [FILE_MODE, 0o640, 0o640]


def test_defaults_and_signals(tmp_path: Path) -> None:
    text = (
        "services:\n  ldap:\n    image: example/ldap:1.0\n    volumes:\n      - ./tls:/etc/ldap/tls\n"
        "    labels:\n      darse.certs.domains: ldap.example.org\n      darse.certs.dir: /etc/ldap/tls\n"
        "      darse.certs.reload: signal:sighup\n"
    )
    [consumer], problems = consumers(load_compose(compose(tmp_path, text)))
    assert problems == []
    assert consumer.files == (
        CertFile("cert", "cert.pem"),
        CertFile("key", "key.pem"),
        CertFile("fullchain", "fullchain.pem"),
    )
    assert (consumer.uid, consumer.gid, consumer.key_mode, consumer.resolver) == (0, 0, 0o600, "")
    assert consumer.reload == Reload("signal", signal="SIGHUP")
    assert (consumer.mount.kind, consumer.subpath) == ("bind", "")


def test_no_labels_no_consumer_and_problems_keep_it_out(tmp_path: Path) -> None:
    text = (
        "services:\n  a:\n    image: x/a:1.0\n  b:\n    image: x/b:1.0\n    labels:\n"
        "      darse.certs.domains: 'ldap.example.org,*.*.example.org'\n      darse.certs.dir: relative/path\n"
    )
    loaded = load_compose(compose(tmp_path, text))
    found, problems = consumers(loaded)
    assert found == []
    assert [(p.label, p.line) for p in problems] == [("darse.certs.domains", 7), ("darse.certs.dir", 8)]
    assert "wildcard may only be the whole leftmost label" in problems[0].message
    assert parse_consumer("a", loaded.services()[0][1]) == (None, [])


def test_problem_messages_name_label_value_and_why(tmp_path: Path) -> None:
    text = (
        "services:\n  b:\n    image: x/b:1.0\n    labels:\n      darse.certs.dir: /etc/tls\n"
        "      darse.certs.mode: '0606'\n"
    )
    _found, problems = consumers(load_compose(compose(tmp_path, text)))
    messages = [p.message for p in problems]
    assert messages[0].startswith("darse.certs.domains is missing")
    assert messages[1].startswith("darse.certs.mode: '0606' lets every user")


def test_certs_section_of_darse_toml(tmp_path: Path) -> None:
    assert parse_config({}).certs == CertsSettings("", "", 21)
    (tmp_path / "darse.toml").write_text('[certs]\nacme = "/srv/traefik/acme.json"\nresolver = "le"\nwarn_days = 30\n')
    assert load_config(tmp_path).certs == CertsSettings("/srv/traefik/acme.json", "le", 30)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"acme_file": "x"}, "unknown key 'acme_file'"),
        ({"resolver": "le resolver"}, "not a certificate resolver name"),
        ({"warn_days": -1}, "warn_days"),
        ({"warn_days": True}, "warn_days"),
        ({"warn_days": "21"}, "warn_days"),
        ({"acme": 3}, "acme must be a string"),
    ],
)
def test_certs_section_refuses_mistakes(table: dict, needle: str) -> None:
    with pytest.raises(DarseError, match=needle):
        parse_config({"certs": table})
    with pytest.raises(DarseError, match="must be a table"):
        parse_config({"certs": "acme.json"})


def test_consumers_of_a_repository_with_overrides(tmp_path: Path) -> None:
    base = (
        "services:\n  ldap:\n    image: example/ldap:1.0\n    volumes:\n      - certs:/etc/ldap/tls\n"
        "    labels:\n      darse.certs.domains: ldap.example.org\n      darse.certs.dir: /etc/ldap/tls\n"
        "volumes:\n  certs:\n"
    )
    override = "services:\n  ldap:\n    labels:\n      darse.certs.owner: '389:389'\n"
    write_tree(
        tmp_path,
        {
            "darse.toml": "",
            "ldap/compose.yaml": base,
            "ldap/compose.override.yaml": override,
            "web/compose.yaml": "services:\n  web:\n    image: example/web:1.0\n",
        },
    )
    [found] = repository_consumers(open_repository(tmp_path))
    assert (found.folder, found.compose_path.name, found.consumer.service) == ("ldap", "compose.yaml", "ldap")
    assert (found.consumer.uid, found.consumer.gid) == (389, 389), "the override is merged, as Compose merges it"


def test_a_wrong_label_stops_the_repository_with_its_position(tmp_path: Path) -> None:
    text = "services:\n  ldap:\n    image: example/ldap:1.0\n    labels:\n      darse.certs.domains: ldap.example.org\n"
    write_tree(tmp_path, {"darse.toml": "", "ldap/compose.yaml": text})
    with pytest.raises(DarseError, match=r"^ldap/compose\.yaml:5:28: darse\.certs\.dir is missing"):
        repository_consumers(open_repository(tmp_path))


def test_configured_acme_path(tmp_path: Path) -> None:
    assert configured_acme(CertsSettings(acme="traefik/acme.json"), tmp_path) == tmp_path / "traefik/acme.json"
    assert configured_acme(CertsSettings(acme="/srv/acme.json"), tmp_path) == Path("/srv/acme.json")
    with pytest.raises(DarseError, match=r"names no acme\.json"):
        configured_acme(CertsSettings(), tmp_path)
