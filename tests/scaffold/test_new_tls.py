"""`darse new --tls-domain`: a TLS service that is not a web service gets the darse.certs labels, the
Traefik router that makes Traefik obtain its certificate, and a volume for the files; lint-clean, and
accepted by `docker compose config`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from darse.certs.labels import consumers
from darse.lint.rules.certs import requested_by
from darse.model.compose import load_compose

from helpers.cli import run_darse
from helpers.lint import lint_tree
from helpers.repo import git_init, snapshot, write_tree


def compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=folder, capture_output=True, text=True, check=False
    )


CONFIG = 'proxy_network = "proxy"\ndomain = "example.org"\n'


def repository(root: Path, config: str = CONFIG) -> Path:
    write_tree(root, {"darse.toml": config, "README.md": "# services\n"})
    git_init(root)
    return root


@pytest.mark.parametrize(
    ("extra", "resolver"),
    [
        ([], "letsencrypt"),
        (["--web", "8080", "--db", "postgres"], "letsencrypt"),
        (["--dockerfile"], "le"),
    ],
)
def test_tls_service_lints_clean_and_compose_accepts_it(tmp_path: Path, extra: list[str], resolver: str) -> None:
    config = CONFIG + (f'[certs]\nresolver = "{resolver}"\n' if resolver != "letsencrypt" else "")
    root = repository(tmp_path, config)
    args = ["--image", "example/ldap:1.5.0", "--tls-domain", "LDAP.example.org", "--tls-domain", "ldap2.example.org"]
    result = run_darse("new", "ldap", *args, *extra, cwd=root)
    assert result.exit_code == 0, result.stderr
    assert "darse lint: no problems" in result.stdout
    assert lint_tree(root).findings == []
    compose = load_compose(root / "ldap/compose.yaml")
    [consumer], problems = consumers(compose)
    assert problems == []
    assert consumer.domains == ("ldap.example.org", "ldap2.example.org") and consumer.dir == "/certs"
    assert (consumer.mount.kind, consumer.mount.source, consumer.subpath) == ("volume", "ldap-certs", "")
    assert [f.name for f in consumer.files] == ["cert.pem", "key.pem", "fullchain.pem"]
    requested = requested_by(compose)  # with --web, its router requests ldap.example.org too
    assert {name for name, _ in requested} == {"ldap.example.org", "ldap2.example.org"}
    assert {used for _, used in requested} == {resolver}
    document = yaml.safe_load((root / "ldap/compose.yaml").read_text())
    service = document["services"]["ldap"]
    assert "ports" not in service and "proxy" in service["networks"]
    assert service["labels"]["traefik.http.routers.ldap-certs.service"] == "noop@internal"
    assert document["volumes"]["ldap-certs"] == {"name": "ldap_certs"}
    assert "`darse.certs.*` labels" in (root / "ldap/README.md").read_text()
    assert run_darse("secrets", "init", "ldap", cwd=root).exit_code == 0
    proc = compose_config(root / "ldap")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("domain", "needle"),
    [("*.example.org", "wildcard"), ("ldap_1.example.org", "not a domain"), ("", "not a domain")],
)
def test_bad_tls_domains_exit_2_and_write_nothing(tmp_path: Path, domain: str, needle: str) -> None:
    root = repository(tmp_path)
    before = snapshot(root)
    result = run_darse("new", "ldap", "--image", "example/ldap:1.5.0", "--tls-domain", domain, cwd=root)
    assert result.exit_code == 2 and needle in result.stderr
    assert snapshot(root) == before
