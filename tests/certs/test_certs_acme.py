"""Reading Traefik's acme.json: every format, every resolver or one, a file cut mid-write retried and
never trusted, links and huge files refused, and the ACME account's key never kept or shown."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from darse.certs.acme import V1, V2, AcmeIncomplete, PrivateKey, parse_acme, read_acme
from darse.errors import DarseError

from helpers.certs import ACCOUNT_KEY, TestCA, acme_v1, acme_v2, write_acme


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="module")
def ldap(ca: TestCA):
    return ca.issue("ldap.example.org", "ldap2.example.org")


@pytest.fixture(scope="module")
def wildcard(ca: TestCA):
    return ca.issue("*.example.org", "example.org")


def no_secret_in(*texts: str) -> None:
    for text in texts:
        assert ACCOUNT_KEY not in text
        assert "PRIVATE KEY" not in text
        assert "ACME-ACCOUNT" not in text


def test_v1_file(tmp_path: Path, ldap, wildcard) -> None:
    acme = read_acme(write_acme(tmp_path / "acme.json", acme_v1(ldap, wildcard)))
    assert (acme.format, acme.resolvers, acme.skipped) == (V1, (), ())
    assert [(c.resolver, c.main, c.sans) for c in acme.certificates] == [
        ("", "ldap.example.org", ("ldap2.example.org",)),
        ("", "*.example.org", ("example.org",)),
    ]
    assert acme.certificates[0].chain_pem == ldap.chain_pem
    assert acme.certificates[0].key.reveal() == ldap.key_pem


def test_v2_file_with_several_resolvers(tmp_path: Path, ldap, wildcard, ca: TestCA) -> None:
    other = ca.issue("mqtt.example.org")
    path = write_acme(tmp_path / "acme.json", acme_v2({"le": [ldap, wildcard], "staging": [other], "empty": []}))
    every = read_acme(path)
    assert (every.format, every.resolvers) == (V2, ("le", "staging", "empty"))
    assert [(c.resolver, c.main) for c in every.certificates] == [
        ("le", "ldap.example.org"),
        ("le", "*.example.org"),
        ("staging", "mqtt.example.org"),
    ]
    assert every.certificates[0].store == "default"
    one = read_acme(path, "staging")
    assert [c.main for c in one.certificates] == ["mqtt.example.org"]
    assert one.certificates[0].key.reveal() == other.key_pem


def test_v3_file_is_read_like_v2(tmp_path: Path, ldap) -> None:
    """Traefik v3 writes the v2 format; a certificate without sans and a null list are both usual."""
    document = acme_v2({"myresolver": [ldap]})
    document["myresolver"]["Certificates"][0]["domain"].pop("sans")
    document["other"] = {"Account": {"PrivateKey": ACCOUNT_KEY}, "Certificates": None}
    acme = read_acme(write_acme(tmp_path / "acme.json", document))
    assert [(c.resolver, c.main, c.sans) for c in acme.certificates] == [("myresolver", "ldap.example.org", ())]


def test_unknown_resolver_names_the_known_ones(tmp_path: Path, ldap) -> None:
    path = write_acme(tmp_path / "acme.json", acme_v2({"le": [ldap]}))
    with pytest.raises(DarseError) as caught:
        read_acme(path, "letsencrypt")
    assert "letsencrypt" in caught.value.message and caught.value.hint == "its resolvers: le"
    v1 = write_acme(tmp_path / "v1.json", acme_v1(ldap))
    with pytest.raises(DarseError, match="Traefik v1"):
        read_acme(v1, "le")


@pytest.mark.parametrize("cut", [0.0, 0.3, 0.5, 0.99])
def test_file_cut_mid_write_is_retried_then_refused(tmp_path: Path, ldap, cut: float) -> None:
    text = json.dumps(acme_v2({"le": [ldap]}), indent=2)
    path = tmp_path / "acme.json"
    path.write_text(text[: int(len(text) * cut)])
    waits: list[float] = []
    with pytest.raises(AcmeIncomplete) as caught:
        read_acme(path, sleep=waits.append)
    assert waits == [0.25, 0.25, 0.25], "read four times in all, a short wait between"
    no_secret_in(caught.value.message, caught.value.hint, str(caught.value))
    assert ("empty" if cut == 0 else "not complete JSON") in caught.value.message


def test_file_completed_between_reads_is_read(tmp_path: Path, ldap) -> None:
    """Traefik finishing its write while darse waits: the second read gets the whole file."""
    text = json.dumps(acme_v2({"le": [ldap]}))
    path = tmp_path / "acme.json"
    path.write_text(text[:100])
    acme = read_acme(path, sleep=lambda _s: path.write_text(text))
    assert [c.main for c in acme.certificates] == ["ldap.example.org"]


def test_damaged_entries_are_skipped_by_name_only(tmp_path: Path, ldap, wildcard) -> None:
    document = acme_v2({"le": [ldap, wildcard]})
    secret_garbage = "!!" + ACCOUNT_KEY
    document["le"]["Certificates"][1]["key"] = secret_garbage
    document["le"]["Certificates"].append({"domain": {}, "certificate": "", "key": ""})
    document["le"]["Certificates"].append({"domain": {"main": ACCOUNT_KEY}, "certificate": "", "key": ""})
    acme = read_acme(write_acme(tmp_path / "acme.json", document))
    assert [c.main for c in acme.certificates] == ["ldap.example.org"]
    assert acme.skipped == (
        "le #1 (*.example.org): its key is not base64 of PEM",
        "le #2: no main domain that is a host name",
        "le #3: no main domain that is a host name",
    )
    no_secret_in(*acme.skipped)


def test_link_outside_its_folder_is_refused(tmp_path: Path, ldap) -> None:
    real = write_acme(tmp_path / "elsewhere.json", acme_v2({"le": [ldap]}))
    (tmp_path / "traefik").mkdir()
    link = tmp_path / "traefik" / "acme.json"
    link.symlink_to(real)
    with pytest.raises(DarseError, match="outside the tree"):
        read_acme(link)
    beside = tmp_path / "traefik" / "acme.json.real"
    beside.write_bytes(real.read_bytes())
    link.unlink()
    link.symlink_to("acme.json.real")  # a link to a file beside it is Traefik's own business
    assert [c.main for c in read_acme(link).certificates] == ["ldap.example.org"]


def test_special_files_and_huge_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "acme.json"
    os.mkfifo(fifo)
    with pytest.raises(DarseError, match="not a regular file"):
        read_acme(fifo)  # opened without blocking, refused: a FIFO never ends
    huge = tmp_path / "huge.json"
    huge.write_bytes(b"{" + b" " * 2048 + b"}")
    with pytest.raises(DarseError, match="larger than 1024 bytes"):
        read_acme(huge, limit=1024)
    with pytest.raises(DarseError, match="does not exist"):
        read_acme(tmp_path / "missing.json")


def test_not_an_acme_file(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    path.write_text('["a list"]')
    with pytest.raises(DarseError, match=r"not an acme\.json file"):
        read_acme(path)


def test_no_key_or_account_in_reprs(tmp_path: Path, ldap) -> None:
    acme = read_acme(write_acme(tmp_path / "acme.json", acme_v2({"le": [ldap]})))
    certificate = acme.certificates[0]
    texts = [repr(acme), str(acme), repr(certificate), str(certificate.key), f"{certificate.key}"]
    texts.append(json.dumps([c.to_dict() for c in acme.certificates]))
    no_secret_in(*texts)
    assert ldap.key_pem.decode() not in "".join(texts)
    assert repr(certificate.key) == "PrivateKey(<hidden>)"
    assert "Account" not in repr(acme) and not hasattr(acme, "account")
    with pytest.raises(TypeError):
        pickle.dumps(certificate.key)


def test_private_keys_compare_by_content() -> None:
    assert PrivateKey(b"a") == PrivateKey(b"a") and PrivateKey(b"a") != PrivateKey(b"b")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(["Account", "Certificates", "le", "domain", "main", "sans", "certificate", "key", "Domain"])
_SHAPED = st.recursive(
    st.none() | st.text(max_size=10) | st.just(ACCOUNT_KEY) | st.just("ldap.example.org"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(document=_JSON | _SHAPED)
def test_any_json_gives_certificates_or_a_darse_error_that_leaks_nothing(document) -> None:
    try:
        acme = parse_acme(document, Path("acme.json"))
    except DarseError as exc:
        no_secret_in(exc.one_line())
        return
    no_secret_in(repr(acme), *acme.skipped, json.dumps([c.to_dict() for c in acme.certificates]))


def test_empty_resolver_means_every_resolver(tmp_path: Path, ldap) -> None:
    path = write_acme(tmp_path / "acme.json", acme_v2({"le": [ldap]}))
    assert len(read_acme(path, "").certificates) == 1
