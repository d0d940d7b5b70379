"""The filters of darse's standard-library client, as the engine takes them: the engine refuses a bare
string where docker-py callers write one (`{"label": "a=b"}`), so each value is made a list (the real
engine is asked so by every Swarm status test)."""

from __future__ import annotations

import json

from darse.engine.local import _filters


def test_every_filter_value_is_sent_as_the_engine_takes_it() -> None:
    query = _filters({"label": "a=b", "dangling": True, "name": ["x", "y"], "node": {"n1": True}})
    assert query is not None
    assert json.loads(query["filters"]) == {
        "label": ["a=b"],
        "dangling": ["true"],
        "name": ["x", "y"],
        "node": {"n1": True},
    }
    assert _filters(None) is None and _filters({}) is None
