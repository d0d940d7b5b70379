"""The bytes, modes and owners of the files a consumer receives; keys never shown."""

from __future__ import annotations

import datetime as dt

from darse.certs.acme import AcmeCertificate, PrivateKey
from darse.certs.files import consumer_files
from darse.certs.labels import CertFile, Consumer
from darse.certs.x509 import choose, key_matches, load_certificates

from helpers.certs import NOW, TestCA, cert_pem


def test_every_kind_of_file() -> None:
    ca = TestCA()
    issued = ca.issue("ldap.example.org")
    entry = AcmeCertificate("le", "ldap.example.org", (), issued.chain_pem, PrivateKey(issued.key_pem))
    chosen = choose([entry], ["ldap.example.org"], now=NOW + dt.timedelta(days=1))
    files = tuple(CertFile(kind, f"{kind}.pem") for kind in ("cert", "chain", "fullchain", "key", "combined"))
    consumer = Consumer("ldap", ("ldap.example.org",), "/tls", files, uid=389, gid=390, key_mode=0o640)
    out = {f.name: f for f in consumer_files(consumer, chosen)}
    intermediate = cert_pem(ca.intermediate)
    assert out["cert.pem"].data == issued.leaf_pem
    assert out["chain.pem"].data == intermediate
    assert out["fullchain.pem"].data == issued.leaf_pem + intermediate
    assert out["key.pem"].data == issued.key_pem
    assert out["combined.pem"].data == issued.leaf_pem + intermediate + issued.key_pem
    assert len(load_certificates(out["combined.pem"].data)) == 2 and key_matches(
        out["combined.pem"].data, issued.key_pem
    )
    assert [(f.mode, f.secret, f.uid, f.gid) for f in out.values()] == [
        (0o644, False, 389, 390),
        (0o644, False, 389, 390),
        (0o644, False, 389, 390),
        (0o640, True, 389, 390),
        (0o640, True, 389, 390),
    ]
    shown = repr(consumer_files(consumer, chosen))
    assert "PRIVATE KEY" not in shown and "CERTIFICATE" not in shown
