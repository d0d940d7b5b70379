"""The files a consumer receives, computed from the certificate chosen for it: pure, so that `darse
certs sync` (which writes them through the engine) and its tests agree on every byte and mode."""

from __future__ import annotations

from dataclasses import dataclass, field

from darse.certs.labels import Consumer
from darse.certs.x509 import Candidate


@dataclass(frozen=True)
class CertFileContent:
    """One file for the consumer's folder: its name, owner, mode and bytes (a key's bytes are never
    shown: `repr` leaves them out)."""

    name: str
    uid: int
    gid: int
    mode: int
    secret: bool  # holds the private key
    data: bytes = field(repr=False)


def consumer_files(consumer: Consumer, chosen: Candidate) -> tuple[CertFileContent, ...]:
    """The consumer's files, in the order its `darse.certs.files` label names them."""
    chain = chosen.chain
    key = chosen.certificate.key.reveal()
    by_kind = {
        "cert": chain.leaf_pem,
        "chain": chain.intermediates_pem,
        "fullchain": chain.fullchain_pem,
        "key": key,
        "combined": chain.fullchain_pem + key,
    }
    return tuple(
        CertFileContent(f.name, consumer.uid, consumer.gid, consumer.mode_of(f), f.is_secret, by_kind[f.kind])
        for f in consumer.files
    )
