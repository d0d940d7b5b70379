"""Facts of certificates, keys that match, chains split for cert.pem/chain.pem/fullchain.pem, RFC 6125
names, and the choice of a consumer's certificate: never an expired or not-yet-valid one over a valid one."""

from __future__ import annotations

import datetime as dt

import pytest

from darse.certs.acme import AcmeCertificate, PrivateKey
from darse.certs.names import covers, covers_all, normalize_domain
from darse.certs.x509 import candidates, choose, key_matches, leaf_facts, load_certificates, split_chain
from darse.errors import DarseError

from helpers.certs import NOW, TestCA, cert_pem


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def entry(issued, resolver: str = "le", key: bytes | None = None) -> AcmeCertificate:
    """As darse.certs.acme returns it (the domains field says what was asked, not what was issued)."""
    return AcmeCertificate(
        resolver, issued.names[0], issued.names[1:], issued.chain_pem, PrivateKey(key or issued.key_pem)
    )


@pytest.mark.parametrize(
    ("pattern", "name", "served"),
    [
        ("*.example.org", "ldap.example.org", True),
        ("*.example.org", "LDAP.Example.ORG", True),
        ("*.EXAMPLE.org", "ldap.example.org.", True),
        ("*.example.org", "a.b.example.org", False),
        ("*.example.org", "example.org", False),
        ("*.example.org", "*.example.org", True),
        ("ldap.example.org", "*.example.org", False),
        ("ldap.example.org", "ldap.example.org", True),
        ("ldap.example.org", "ldap.example.com", False),
        ("*.example.org", "ldap.example.org.evil", False),
        ("*.xn--bcher-kva.example", "ldap.bücher.example", True),
        ("ldap.bücher.example", "ldap.xn--bcher-kva.example", True),
        ("f*.example.org", "foo.example.org", False),  # partial-label wildcards are not honoured
        ("*.*.example.org", "a.b.example.org", False),
        ("*", "localhost", False),
    ],
)
def test_names_match_by_rfc_6125(pattern: str, name: str, served: bool) -> None:
    assert covers(pattern, name) is served


def test_normalize_domain_refuses_what_is_no_host_name() -> None:
    assert normalize_domain("Mail.Example.ORG.") == "mail.example.org"
    assert normalize_domain("bücher.example") == "xn--bcher-kva.example"
    for bad in ("", "*", "*.org", "a..b", "-a.example.org", "a_b.example.org", "x." * 130 + "org", "ldap.*.org"):
        with pytest.raises(ValueError):
            normalize_domain(bad)
    with pytest.raises(ValueError, match="wildcard"):
        normalize_domain("*.example.org", wildcard=False)
    assert covers_all(["*.example.org", "example.org"], ["example.org", "ldap.example.org"])
    assert not covers_all(["*.example.org"], ["example.org", "ldap.example.org"])


def test_facts_of_a_chain(ca: TestCA) -> None:
    issued = ca.issue("ldap.example.org", "ldap2.example.org")
    facts = leaf_facts(issued.chain_pem)
    assert facts.fingerprint == issued.fingerprint
    assert (facts.subject, facts.issuer) == ("CN=ldap.example.org", "CN=darse test R3")
    assert facts.sans == ("ldap.example.org", "ldap2.example.org")
    assert facts.not_before == NOW - dt.timedelta(days=1) and facts.not_after == NOW + dt.timedelta(days=90)
    assert facts.days_left(NOW) == 90 and facts.days_left(NOW + dt.timedelta(days=100)) == -10
    assert facts.valid_at(NOW) and not facts.valid_at(NOW + dt.timedelta(days=91))
    shown = facts.to_dict(NOW)
    assert (shown["days_left"], shown["valid"], shown["fingerprint"]) == (90, True, issued.fingerprint)


def test_chain_split_into_leaf_and_intermediates_whatever_the_order(ca: TestCA) -> None:
    issued = ca.issue("ldap.example.org")
    root, intermediate = cert_pem(ca.root), cert_pem(ca.intermediate)
    for bundle in (issued.chain_pem, intermediate + issued.leaf_pem, root + intermediate + issued.leaf_pem):
        chain = split_chain(bundle)
        assert chain.leaf_pem == issued.leaf_pem
        expected = intermediate + (root if root in bundle else b"")
        assert chain.intermediates_pem == expected
        assert chain.fullchain_pem == issued.leaf_pem + expected
    alone = split_chain(issued.leaf_pem)
    assert (alone.leaf_pem, alone.intermediates_pem) == (issued.leaf_pem, b"")


def test_damaged_chains_are_errors_that_quote_nothing(ca: TestCA) -> None:
    with pytest.raises(DarseError, match="no PEM certificate"):
        load_certificates(b"not a certificate")
    damaged = b"-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n"
    with pytest.raises(DarseError, match="damaged") as caught:
        load_certificates(damaged)
    assert "MIIBroken" not in caught.value.one_line()


def test_key_matches_only_its_own_certificate(ca: TestCA) -> None:
    one, two = ca.issue("a.example.org"), ca.issue("b.example.org")
    assert key_matches(one.chain_pem, one.key_pem)
    assert key_matches(one.chain_pem, PrivateKey(one.key_pem))
    assert not key_matches(one.chain_pem, two.key_pem)
    assert not key_matches(one.chain_pem, b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")


def test_choice_covers_every_domain_wildcards_included(ca: TestCA) -> None:
    ldap = ca.issue("ldap.example.org")
    wildcard = ca.issue("*.example.org", "example.org")
    multi = ca.issue("mail.example.org", "imap.example.org", "smtp.example.org", not_after=NOW + dt.timedelta(days=95))
    entries = [entry(ldap), entry(wildcard), entry(multi)]
    assert choose(entries, ["imap.example.org", "smtp.example.org"], now=NOW).facts.fingerprint == multi.fingerprint
    assert (
        choose(entries[:2], ["imap.example.org", "smtp.example.org"], now=NOW).facts.fingerprint == wildcard.fingerprint
    )
    assert choose(entries, ["example.org", "mqtt.example.org"], now=NOW).facts.fingerprint == wildcard.fingerprint
    assert choose(entries, ["a.b.example.org"], now=NOW) is None
    assert choose(entries, ["example.com"], now=NOW) is None


def test_choice_judges_the_certificate_not_what_acme_json_says(ca: TestCA) -> None:
    """kereis/traefik-certs-dumper#117: a wildcard found by main domain only. Here the SANs decide."""
    wildcard = ca.issue("*.example.org")
    lying = AcmeCertificate("le", "ldap.example.com", (), wildcard.chain_pem, PrivateKey(wildcard.key_pem))
    assert choose([lying], ["ldap.example.org"], now=NOW).certificate is lying
    assert choose([lying], ["ldap.example.com"], now=NOW) is None


def test_never_an_expired_or_future_certificate_over_a_valid_one(ca: TestCA) -> None:
    valid = ca.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=10))
    expired = ca.issue(
        "ldap.example.org", not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=1)
    )
    future = ca.issue("ldap.example.org", not_before=NOW + dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=300))
    entries = [entry(expired), entry(future), entry(valid)]
    assert choose(entries, ["ldap.example.org"], now=NOW).facts.fingerprint == valid.fingerprint
    assert choose([entry(expired), entry(future)], ["ldap.example.org"], now=NOW) is None
    renewed = ca.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=89))
    chosen = choose([entry(valid), entry(renewed)], ["ldap.example.org"], now=NOW)
    assert chosen.facts.fingerprint == renewed.fingerprint, "the valid one that expires last"


def test_choice_by_resolver_and_refused_entries(ca: TestCA) -> None:
    staging = ca.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=80))
    production = ca.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=60))
    mismatched = ca.issue("ldap.example.org", not_after=NOW + dt.timedelta(days=89))
    other_key = ca.issue("x.example.org").key_pem
    entries = [entry(staging, "staging"), entry(production, "le"), entry(mismatched, "le", key=other_key)]
    assert choose(entries, ["ldap.example.org"], "le", now=NOW).facts.fingerprint == production.fingerprint
    assert choose(entries, ["ldap.example.org"], now=NOW).facts.fingerprint == staging.fingerprint
    found, refused = candidates(entries, ["ldap.example.org"])
    assert len(found) == 2 and refused == ["ldap.example.org: its key does not match its certificate"]
    assert "PRIVATE" not in repr(found)
