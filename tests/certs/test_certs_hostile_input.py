"""Hostile input to `darse certs` that needs no engine: labels out of every range, an engine that fails
mid-call. Each ends as one line (a lint finding, a CertsEngineError), never a traceback."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from darse.certs.acme import read_acme
from darse.certs.labels import consumers
from darse.certs.x509 import MAX_CHAIN, candidates, choose
from darse.engine.api import APIError
from darse.engine.certs import CertsEngineError, ConsumerFiles
from darse.errors import DarseError
from darse.model.compose import load_compose

from helpers.certs import TestCA, acme_v2, write_acme
from helpers.certs_repo import ldap_compose
from helpers.cli import run_darse
from helpers.fake_engine import FakeEngineAPI
from helpers.repo import git_init, write_tree


@pytest.mark.parametrize("owner", ["1" * 5000 + ":0", "0:" + "9" * 4400, "0" * 5000 + "1:1"])
def test_an_owner_of_thousands_of_digits_is_a_finding_not_a_traceback(tmp_path: Path, owner: str) -> None:
    files = {"darse.toml": '[certs]\nacme = "acme.json"\n', "ldap/compose.yaml": ldap_compose(owner=owner)}
    write_tree(tmp_path, files)
    git_init(tmp_path)
    result = run_darse("lint", "ldap", cwd=tmp_path)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if owner.startswith("0" * 5000):  # leading zeros: a small number after all
        assert "darse.certs.owner" not in result.stdout
    else:
        assert "CT003" in result.stdout and "is out of range (at most 2147483647)" in result.stdout
        write_acme(tmp_path / "acme.json", acme_v2({"le": [TestCA().issue("ldap.example.org")]}))
        sync = run_darse("certs", "sync", cwd=tmp_path)
        assert sync.exit_code == 1 and "ldap/ldap: failed: ldap/compose.yaml:9:26: darse.certs.owner:" in sync.stdout
        assert "darse.certs.owner" in sync.stdout and "out of range" in sync.stdout


class FailingEngineAPI(FakeEngineAPI):
    """An engine that answers its ping, then fails the listing (a daemon restarting, a proxy cutting)."""

    def containers(self, *, all: bool = False, filters=None):
        raise APIError(500, "Internal Server Error: the daemon is shutting down")


def test_an_engine_failing_mid_call_is_a_one_line_engine_error() -> None:
    files = ConsumerFiles(FailingEngineAPI().connect(None))
    with pytest.raises(CertsEngineError) as caught:
        files.containers("ldap", "ldap")
    assert caught.value.message == (
        "cannot list the containers of ldap/ldap: Internal Server Error: the daemon is shutting down"
    )


@pytest.mark.parametrize("name", [".darse-certs", ".darse-certs-reload-pending", ".darse-certsX"])
def test_a_file_named_like_the_staging_folder_is_refused(tmp_path: Path, name: str) -> None:
    """`.darse-certs` is the staging folder beside the files: a file of that name would replace it
    while the files are linked out of it, and its records must not be a consumer's file."""
    text = ldap_compose(owner="0:0")
    text = text.replace('darse.certs.owner: "0:0"', f"darse.certs.files: cert=cert.pem,key={name}")
    (tmp_path / "compose.yaml").write_text(text)
    found, problems = consumers(load_compose(tmp_path / "compose.yaml"))
    assert found == []
    assert [p.message for p in problems] == [
        f"darse.certs.files: 'cert=cert.pem,key={name}' gives key the name {name!r}: "
        "names starting with .darse-certs are darse's own"
    ]


def test_a_chain_of_thousands_of_certificates_is_refused_before_it_is_ordered(tmp_path: Path) -> None:
    """Ordering a chain compares every certificate with every other: 64 MiB of acme.json would hold
    a hundred thousand. Such an entry is refused by name, and the others of the file still serve."""
    ca = TestCA()
    good, bloated = ca.issue("ldap.example.org"), ca.issue("ldap.example.org")
    intermediate = bloated.chain_pem[len(bloated.leaf_pem) :]
    document = acme_v2({"le": [bloated, good]})
    document["le"]["Certificates"][0]["certificate"] = base64.b64encode(
        bloated.leaf_pem + intermediate * 5000
    ).decode()
    acme = read_acme(write_acme(tmp_path / "acme.json", document))
    found, refused = candidates(acme.certificates, ["ldap.example.org"])
    assert [c.facts.fingerprint for c in found] == [good.fingerprint]
    assert refused == [f"ldap.example.org: the chain holds more than {MAX_CHAIN} certificates"]
    assert choose(acme.certificates, ["ldap.example.org"]).facts.fingerprint == good.fingerprint


def test_resolver_names_of_the_file_reach_messages_quoted_and_short(tmp_path: Path) -> None:
    """A resolver name is any JSON key: terminal escapes or a megabyte of it must not reach the terminal
    or the watcher's log as they are."""
    hostile = "\x1b]0;pwned\x07\x1b[2J" + "x" * 100_000
    issued = TestCA().issue("ldap.example.org")
    document = acme_v2({hostile: [issued], **{f"r{i}": [] for i in range(20)}})
    document["evil\nname"] = {"Certificates": "not a list"}
    path = write_acme(tmp_path / "acme.json", document)
    acme = read_acme(path)
    assert acme.certificates[0].resolver == hostile, "the name itself still selects the certificates"
    (skipped,) = acme.skipped
    assert skipped == "'evil\\nname': the certificate list is not a list"
    with pytest.raises(DarseError) as caught:
        read_acme(path, "le")
    hint = caught.value.hint
    assert "\x1b" not in hint and len(hint) < 400 and hint.endswith(", ...") and "'\\x1b]0;pwned\\x07" in hint
