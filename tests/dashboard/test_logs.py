"""The log follower's parts without Docker: the engine's frames taken apart in any pieces, stamped lines
and Swarm details read, masking before the filter and the cut, the checks of the page's input, and the
follower itself on the in-memory engine (a redeploy's new container followed, a full buffer counted,
every stream closed on `close()`). The real engine's side is in tests/integration/dashboard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from darse.dashboard.logs import MAX_SHOWN, MAX_TAIL, LineShaper, LogFollower, check_filter, check_tail
from darse.engine.api import log_lines
from darse.engine.logs import _record
from darse.errors import DarseError
from darse.masking import MASK, Masker

from helpers.fake_logs import LoggingEngine, frame, wait_for

SECRET = "s3cret-Value-99x"


def masker() -> Masker:
    found = Masker()
    found.add("API_TOKEN", SECRET)
    return found


# -- frames and lines -------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")), max_size=8), st.data())
def test_frames_give_the_same_lines_whatever_the_pieces(lines: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(frame(1 + i % 2, line + b"\n") for i, line in enumerate(lines))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert list(log_lines(pieces, multiplexed=True)) == [(line, False) for line in lines]


def test_a_line_split_over_frames_is_one_line_and_a_tty_stream_is_not_demultiplexed() -> None:
    raw = frame(1, b"2026 one ") + frame(1, b"line\r\n") + frame(1, b"unfinished")
    assert list(log_lines([raw], multiplexed=True)) == [(b"2026 one line", False), (b"unfinished", False)]
    assert list(log_lines([b"tty line\r\nnext\n"], multiplexed=False)) == [(b"tty line", False), (b"next", False)]


def test_a_line_of_the_other_stream_between_the_frames_of_a_long_line_stays_apart() -> None:
    """The engine sends a long line in several frames; stderr may write between them."""
    raw = frame(1, b"a" * 10) + frame(2, b"err one\n") + frame(1, b"a" * 10 + b"\nout two\n")
    assert list(log_lines([raw], multiplexed=True, limit=8)) == [
        (b"err one", False),
        (b"aaaaaaaa", True),
        (b"out two", False),
    ]


def test_a_long_line_is_cut_and_its_rest_dropped_as_it_streams() -> None:
    pieces = [b"a" * 5, b"b" * 10, b"c\nshort\n"]
    assert list(log_lines(pieces, multiplexed=False, limit=8)) == [(b"aaaaabbb", True), (b"short", False)]


def test_stamped_lines_and_swarm_details_are_read() -> None:
    plain = _record("2026-11-28T13:15:48.931489150Z hello world", False, details=False)
    assert (plain.time, plain.text) == ("2026-11-28T13:15:48.931489150Z", "hello world")
    swarm = _record(
        "2026-11-28T13:15:48.9Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
        "com.docker.swarm.task.id=t%2C1 a b",
        False,
        details=True,
    )
    assert (swarm.task, swarm.node, swarm.text) == ("t,1", "n1", "a b")
    assert _record("no stamp here", True, details=False).text == "no stamp here"


# -- what is shown ----------------------------------------------------------------------------------


def test_lines_are_masked_before_the_filter_sees_them() -> None:
    shaper = LineShaper(masker())
    assert shaper.shape("app-1", "t", f"token={SECRET} ok", False).text == f"token={MASK} ok"
    assert LineShaper(masker(), SECRET[:8]).shape("app-1", "t", f"token={SECRET}", False) is None
    filtered = LineShaper(masker(), "ERROR")
    assert filtered.shape("app-1", "t", "an error here", False) is not None  # case does not matter
    assert filtered.shape("app-1", "t", "all fine", False) is None
    assert LineShaper(masker(), "app-2").shape("app-2", "t", "by its source", False) is not None


def test_terminal_escapes_are_dropped_and_cannot_hide_a_secret() -> None:
    shaper = LineShaper(masker())
    coloured = shaper.shape("app-1", "t", "\x1b[31mred\x1b[0m \x1b]0;title\x07done\tok\x08", False)
    assert coloured is not None and coloured.text == "red done\tok"
    split = shaper.shape("app-1", "t", f"token={SECRET[:5]}\x1b[1m{SECRET[5:]}", False)
    assert split is not None and split.text == f"token={MASK}"  # the escape does not split the secret


def test_a_cut_line_never_ends_with_the_start_of_a_secret() -> None:
    shaper = LineShaper(masker())
    line = shaper.shape("app-1", "t", "x" * 20 + SECRET[:7], cut=True)
    assert line is not None and line.cut and SECRET[:3] not in line.text
    long = shaper.shape("app-1", "t", "y" * (MAX_SHOWN + 50), cut=False)
    assert long is not None and long.cut and len(long.text) == MAX_SHOWN


def test_the_page_input_is_checked() -> None:
    assert check_tail(None) == 100 and check_tail("0") == 0 and check_tail(str(MAX_TAIL)) == MAX_TAIL
    for bad in ("-1", str(MAX_TAIL + 1), "many"):
        with pytest.raises(DarseError) as caught:
            check_tail(bad)
        assert caught.value.hint
    assert check_filter("  error  ") == "error"
    for bad in ("x" * 201, "two\nlines"):
        with pytest.raises(DarseError):
            check_filter(bad)


# -- the follower on the in-memory engine -------------------------------------------------------------


def test_the_follower_follows_a_new_container_and_closes_every_stream() -> None:
    fake = LoggingEngine()
    first = fake.add_container("wiki-web-1", project="wiki", service="web")
    follower = LogFollower(fake.connect(None), "wiki", LineShaper(masker()), tail=10)
    follower.start()
    wait_for(lambda: first.id in fake.logs_by_container)
    fake.logs_by_container[first.id][0].line(f"hello {SECRET}")
    got = follower.wait(5)
    assert [(line.source, line.text) for line in got] == [("wiki-web-1", f"hello {MASK}")]

    first.state = "exited"  # a redeploy: the old container goes, a new one starts
    fake.logs_by_container[first.id][0].close()
    second = fake.add_container("wiki-web-1", project="wiki", service="web")
    wait_for(lambda: fake.event_streams)
    fake.emit(second, "start")
    wait_for(lambda: second.id in fake.logs_by_container)
    fake.logs_by_container[second.id][0].line("after the redeploy")
    seen: list[str] = []
    wait_for(lambda: seen.extend(line.text for line in follower.take()) or "after the redeploy" in seen)
    assert follower.followed_count == 2

    follower.close(timeout=5)
    assert fake.logs_by_container[second.id][0].closed and all(s.closed for s in fake.event_streams)
    wait_for(lambda: fake.closed)  # the follower's engine client too


def test_a_full_buffer_drops_lines_and_says_how_many() -> None:
    fake = LoggingEngine()
    container = fake.add_container("wiki-web-1", project="wiki", service="web")
    with LogFollower(fake.connect(None), "wiki", LineShaper(Masker()), buffered=3) as follower:
        follower.start()
        wait_for(lambda: container.id in fake.logs_by_container)
        for number in range(5):
            fake.logs_by_container[container.id][0].line(f"line {number}")
        wait_for(lambda: follower._dropped == 2)
        got = follower.take()
    assert got[0].note and "2 lines skipped" in got[0].text
    assert [line.text for line in got[1:]] == ["line 0", "line 1", "line 2"]


def test_follow_logs_says_why_it_cannot_start(tmp_path, monkeypatch) -> None:
    from darse import api
    from darse.deploy.context import DeployContext

    from helpers.deploy_repo import make_repo

    repo = make_repo(tmp_path, monkeypatch)
    repo.fake.reachable = False
    ctx = DeployContext.open(repo.root, connect_engine=repo.fake.connect)
    with pytest.raises(DarseError, match="cannot reach the Docker engine"):
        api.follow_logs(ctx, "wiki")
    with pytest.raises(DarseError) as unknown:
        api.follow_logs(ctx, "wikki")
    assert unknown.value.hint  # the library's "did you mean"
    with pytest.raises(DarseError, match="the tail must be"):
        api.follow_logs(ctx, "wiki", tail=5000)
