"""The engine's multiplexed stream taken apart by `darse.engine.backup` whatever way its bytes arrive:
frames and their headers split across reads at any point, empty frames, streams alternating. The real
engine's stream is exercised in tests/integration/engine/test_backup_engine.py; here every split is."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from darse.engine.backup import CHUNK, _BrokenStream, _frames


class Arrivals:
    """A response body whose `read1` gives the bytes in the pieces given (as a socket may)."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
        self.pieces = [data[a:b] for a, b in itertools.pairwise(points)]

    def read1(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            self.pieces.insert(0, piece[size:])
            piece = piece[:size]
        return piece


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def taken_apart(data: bytes, cuts: list[int]) -> tuple[bytes, bytes, int]:
    out, err, biggest = b"", b"", 0
    for stream, piece in _frames(Arrivals(data, cuts)):
        biggest = max(biggest, len(piece))
        if stream == 1:
            out += piece
        else:
            err += piece
    return out, err, biggest


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=300)), max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=20),
)
def test_frames_come_apart_at_any_split(frames, cuts):
    data = b"".join(frame(stream, payload) for stream, payload in frames)
    out, err, _ = taken_apart(data, cuts)
    assert out == b"".join(p for s, p in frames if s == 1)
    assert err == b"".join(p for s, p in frames if s == 2)


def test_a_big_frame_comes_in_pieces_of_at_most_a_chunk():
    payload = bytes(range(256)) * 2048  # 512 KiB in one frame
    out, err, biggest = taken_apart(frame(1, payload) + frame(2, b"done\n"), [])
    assert out == payload and err == b"done\n" and biggest <= CHUNK


@pytest.mark.parametrize("cut", [3, 8 + 2])
def test_a_stream_cut_inside_a_frame_is_broken(cut):
    data = frame(1, b"0123456789")[:cut]
    with pytest.raises(_BrokenStream):
        taken_apart(data, [1])
