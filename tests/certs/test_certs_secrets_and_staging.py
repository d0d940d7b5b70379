"""The shapes darse hands to the engine for certificates, without an engine: the staged archive (files
whole in `.darse-certs/`, then linked over their names) and the Swarm secrets (names by content hash,
at most 64 characters, mounted at the consumer's folder with owner and mode)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from darse.certs.labels import parse_consumer
from darse.certs.swarm import add_to_document, certificate_secrets, is_certificate_ref, prefix
from darse.certs.x509 import choose
from darse.engine.certs import STAGING, OwnedFile, _staged_archive
from darse.model.compose import load_compose

from helpers.certs import TestCA

CA = TestCA()


def test_the_staged_archive_writes_files_whole_then_links_them_over_their_names() -> None:
    files = [OwnedFile("cert.pem", 389, 389, 0o644, b"CERT"), OwnedFile("key.pem", 389, 390, 0o600, b"KEY")]
    with tarfile.open(fileobj=io.BytesIO(_staged_archive(files))) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == [STAGING, f"{STAGING}/cert.pem", f"{STAGING}/key.pem", "cert.pem", "key.pem"]
    staged_key = members[2]
    assert staged_key.isreg() and (staged_key.uid, staged_key.gid, staged_key.mode) == (389, 390, 0o600)
    assert members[0].isdir() and members[0].mode == 0o700
    links = members[3:]
    assert all(m.islnk() for m in links) and [m.linkname for m in links] == names[1:3]


COMPOSE = """\
services:
  mail:
    image: x:1
    volumes: [certs:/etc/mail/tls]
    labels:
      darse.certs.domains: mail.example.org
      darse.certs.dir: /etc/mail/tls
      darse.certs.owner: "8:12"
volumes:
  certs:
"""


@pytest.fixture
def consumer(tmp_path: Path):
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    name, node = load_compose(path).services()[0]
    found, problems = parse_consumer(name, node)
    assert found is not None and not problems
    return found


def test_swarm_secrets_are_named_by_content_and_fit_swarms_limit(consumer) -> None:
    issued = CA.issue("mail.example.org")
    chosen = choose([_acme(issued)], ("mail.example.org",))
    stack = "a-very-long-stack-name-" + "x" * 60
    secrets = certificate_secrets(stack, consumer, chosen)
    assert [s.target for s in secrets] == [
        "/etc/mail/tls/cert.pem",
        "/etc/mail/tls/key.pem",
        "/etc/mail/tls/fullchain.pem",
    ]
    assert all(len(s.name) <= 64 and s.name.startswith(prefix(stack)) for s in secrets)
    assert len({s.name for s in secrets}) == 3
    again = certificate_secrets(stack, consumer, chosen)
    assert [s.name for s in again] == [s.name for s in secrets]  # same content, same names
    key = secrets[1]
    assert (key.uid, key.gid, key.mode) == (8, 12, 0o600) and "PRIVATE" not in repr(key)


def test_secret_references_go_into_the_stack_document_as_external_secrets(consumer) -> None:
    issued = CA.issue("mail.example.org")
    secrets = certificate_secrets("mail", consumer, choose([_acme(issued)], ("mail.example.org",)))
    refs = [secret.ref(f"id{index}") for index, secret in enumerate(secrets)]
    assert all(is_certificate_ref(ref, "mail") for ref in refs)
    assert not is_certificate_ref({"SecretName": "mail_token_abc"}, "mail")
    document = {"services": {"mail": {"image": "x:1", "secrets": ["token"]}}, "secrets": {"token": {"file": "t"}}}
    names = add_to_document(document, "mail", refs)
    assert names == [s.name for s in secrets]
    mounts = document["services"]["mail"]["secrets"]
    assert mounts[0] == "token" and len(mounts) == 4
    assert mounts[2]["target"] == "/etc/mail/tls/key.pem" and mounts[2]["mode"] == 0o600 and mounts[2]["uid"] == "8"
    assert document["secrets"][mounts[2]["source"]] == {"external": True, "name": secrets[1].name}


def _acme(issued):
    from darse.certs.acme import AcmeCertificate, PrivateKey

    return AcmeCertificate("le", issued.names[0], issued.names[1:], issued.chain_pem, PrivateKey(issued.key_pem))
