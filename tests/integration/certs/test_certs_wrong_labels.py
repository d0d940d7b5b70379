"""One service with wrong darse.certs labels among good ones: it is a failure of its own (sync: failed,
status: invalid, exit 1), and the other consumers are still synced and shown, so that one typo pulled
into the watcher's checkout does not stop every renewal."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.certs import TestCA, acme_v2, write_acme
from helpers.certs_repo import ldap_compose
from helpers.cli import run_darse
from helpers.repo import git_init, write_tree


def test_wrong_labels_fail_their_service_only(tmp_path: Path, engine) -> None:
    # folder names unique to this test: no container of theirs exists on the engine
    good, bad = f"good{tmp_path.name[-6:]}", f"bad{tmp_path.name[-6:]}"
    write_tree(
        tmp_path,
        {
            "darse.toml": '[certs]\nacme = "acme.json"\n',
            f"{good}/compose.yaml": ldap_compose(owner="389:389"),
            f"{bad}/compose.yaml": ldap_compose(owner="ldap"),
        },
    )
    git_init(tmp_path)
    write_acme(tmp_path / "acme.json", acme_v2({"le": [TestCA().issue("ldap.example.org")]}))

    sync = run_darse("certs", "sync", "--json", cwd=tmp_path)
    assert sync.exit_code == 1, sync.stderr
    outcomes = {c["folder"]: c for c in json.loads(sync.stdout)["consumers"]}
    assert outcomes[good]["outcome"] == "not-deployed"
    assert outcomes[bad]["outcome"] == "failed"
    assert outcomes[bad]["detail"].startswith(f"{bad}/compose.yaml:9:")
    assert "darse.certs.owner: 'ldap' is not a numeric uid:gid" in outcomes[bad]["detail"]

    text = run_darse("certs", "sync", cwd=tmp_path)
    assert f"{bad}/ldap: failed: {bad}/compose.yaml:9:" in text.stdout

    status = run_darse("certs", "status", "--json", "--no-probe", cwd=tmp_path)
    assert status.exit_code == 1, status.stderr
    report = json.loads(status.stdout)
    verdicts = {c["folder"]: c["verdict"] for c in report["consumers"]}
    assert verdicts == {good: "unknown", bad: "invalid"} and report["ok"] is False


def test_a_certificate_named_with_terminal_escapes_is_shown_escaped(tmp_path: Path, engine) -> None:
    """Names of a certificate come from whoever made it (acme.json, a consumer's folder, a TLS server
    status probes): shown on the terminal, its control characters are written out, never sent."""
    folder = f"ldap{tmp_path.name[-6:]}"
    write_tree(
        tmp_path,
        {"darse.toml": '[certs]\nacme = "acme.json"\n', f"{folder}/compose.yaml": ldap_compose(owner="0:0")},
    )
    git_init(tmp_path)
    issued = TestCA("\x1b]0;pwned\x07\x1b[2J").issue("ldap.example.org")
    write_acme(tmp_path / "acme.json", acme_v2({"le": [issued]}))
    status = run_darse("certs", "status", "--no-probe", cwd=tmp_path)
    assert "\x1b" not in status.stdout and "\x07" not in status.stdout
    assert "CN=\\x1b]0\\;pwned\\x07\\x1b[2J R3" in status.stdout
    report = json.loads(run_darse("certs", "status", "--json", "--no-probe", cwd=tmp_path).stdout)
    assert report["consumers"][0]["acme"]["issuer"] == "CN=\\x1b]0\\;pwned\\x07\\x1b[2J R3"
