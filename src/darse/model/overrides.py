"""Override files merged onto their base as Compose merges them, positions kept per file.

Rules look at one merged tree, so an override is never judged alone, yet a finding in a value the
override wrote must point at the override. Nodes read from the k-th override therefore carry lines
shifted by k × LINE_SHIFT: they stay unique in the merged tree, and `MergedCompose.locate` maps a
reported line back to (file, line). Only the merge rules lint needs are implemented (the Compose
specification's "Merge" chapter and compose-go's `override` package): mappings merge, `command`,
`entrypoint` and `healthcheck.test` are replaced, `environment`/`labels`-like mappings merge by name
in either syntax, `ports`/`volumes`/`secrets`/`configs`/`expose` merge by their unique key, other
sequences append without repeating a value, scalars are replaced, `!reset` removes and `!override`
replaces. `docker compose config` stays the reference for deploys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darse.model.compose import ComposeFile, Problem, load_compose
from darse.model.yamlnode import YNode

LINE_SHIFT = 1 << 30  # far beyond any line a bounded Compose file has

_REPLACED = {"command", "entrypoint"}
_BY_NAME = {"environment", "labels", "annotations", "sysctls", "extra_hosts"}  # list or mapping syntax
_NAMED_LISTS = {"networks", "depends_on", "links"}  # a list of names or a mapping by name
_UNIQUE = {"ports", "volumes", "secrets", "configs", "expose"}


@dataclass
class MergedCompose(ComposeFile):
    """A base Compose file with its overrides merged in; `sources[k]` is the file of shift k."""

    sources: list[Path] = field(default_factory=list)

    def locate(self, line: int) -> tuple[Path, int]:
        """The file and real line of a (possibly shifted) line of the merged tree."""
        index, real = divmod(line, LINE_SHIFT)
        if 0 < index < len(self.sources):
            return self.sources[index], real
        return self.path, line


def load_merged(base: Path, overrides: tuple[Path, ...]) -> MergedCompose:
    """The base file with each override merged in order; a broken override's problems are reported
    (at its own lines) and the rest still merged."""
    first = load_compose(base)
    merged = MergedCompose(base, first.root, list(first.problems), first.env, sources=[base, *overrides])
    for index, path in enumerate(overrides, start=1):
        override = load_compose(path)
        shift = index * LINE_SHIFT
        merged.problems.extend(Problem(p.message, p.line + shift, p.column, p.fatal) for p in override.problems)
        if override.root is None:
            continue
        _shift(override.root, shift, set())
        if merged.root is None:
            continue  # nothing to merge onto: the base's own problem says why
        _merge_map(merged.root, override.root, ())
    return merged


def _shift(node: YNode, shift: int, done: set[int]) -> None:
    if id(node) in done:  # shared through an anchor
        return
    done.add(id(node))
    node.line += shift
    if node.keys:
        for key in node.keys.values():
            if id(key) not in done:
                done.add(id(key))
                key.line += shift
    for child in node.children():
        _shift(child, shift, done)


def _merge_map(base: YNode, over: YNode, path: tuple[str, ...]) -> None:
    """Merge mapping `over` into mapping `base` in place."""
    assert base.keys is not None
    for key, value in over.value.items():
        key_node = over.key_node(key)
        if value.tag == "!reset":
            base.value.pop(key, None)
            base.keys.pop(key, None)
            continue
        current = base.value.get(key)
        if current is None or value.tag == "!override" or key.startswith("x-"):
            base.value[key], base.keys[key] = value, key_node
            continue
        base.value[key] = _merge_value(current, value, (*path, key))
        if base.value[key] is value:
            base.keys[key] = key_node


def _merge_value(base: YNode, over: YNode, path: tuple[str, ...]) -> YNode:
    """The merged value of one key: `base` updated in place, or `over` when it replaces it."""
    in_service = len(path) >= 3 and path[0] == "services"
    key = path[-1]
    if in_service and len(path) == 3:
        if key in _REPLACED:
            return over
        if key in _BY_NAME:
            return _merge_by_name(base, over, key)
        if key in _NAMED_LISTS and (base.is_map or over.is_map):
            return _merge_by_name(base, over, key) if base.is_map != over.is_map else _merge_into(base, over, path)
        if key in _UNIQUE and base.is_list and over.is_list:
            return _merge_unique(base, over, key)
        if key == "logging" and base.is_map and over.is_map:
            ours, theirs = base.get("driver"), over.get("driver")
            if ours is not None and theirs is not None and ours.text() != theirs.text():
                return over
    if in_service and path[-2:] == ("healthcheck", "test"):
        return over
    return _merge_into(base, over, path)


def _merge_into(base: YNode, over: YNode, path: tuple[str, ...]) -> YNode:
    if base.is_map and over.is_map:
        _merge_map(base, over, path)
        return base
    if base.is_list and over.is_list:
        seen = {item.text() for item in base.value if not item.is_map and not item.is_list}
        for item in over.value:
            text = None if item.is_map or item.is_list else item.text()
            if text is None or text not in seen:
                base.value.append(item)
                seen.add(text)
        return base
    return over  # scalars, or a change of kind: the later file wins


def _entry_name(key: str, item: YNode) -> str:
    """The name an entry of a list-or-mapping key is merged by (`A=1` → `A`; `host:ip` → `host`)."""
    text = item.text() or ""
    if key == "extra_hosts":
        return text.partition("=")[0].partition(":")[0].strip()
    return text.partition("=")[0].strip()


def _merge_by_name(base: YNode, over: YNode, key: str) -> YNode:
    """`environment`, `labels`, `networks`, ...: entries merge by name whichever syntax each file uses.
    Both mappings stay a mapping; otherwise the result is a list whose entries keep their own nodes."""
    if base.is_map and over.is_map:
        assert base.keys is not None
        for name, value in over.value.items():
            if value.tag == "!reset":
                base.value.pop(name, None)
                base.keys.pop(name, None)
                continue
            base.value[name], base.keys[name] = value, over.key_node(name)
        return base
    if not (base.is_map or base.is_list) or not (over.is_map or over.is_list):
        return over
    entries: dict[str, YNode] = {}
    for source in (base, over):
        if source.is_map:
            for name, value in source.value.items():
                text = value.text()
                key_node = source.key_node(name)
                item_text = name if text is None or value.value is None else f"{name}={text}"
                entries[name] = YNode(item_text, key_node.line, key_node.column, raw=None)
        else:
            for item in source.value:
                entries[_entry_name(key, item) if not item.is_map else str(id(item))] = item
    return YNode(list(entries.values()), base.line, base.column)


def _unique_key(key: str, item: YNode) -> str:
    """Compose's unique key of a `ports`/`volumes`/`secrets`/`configs`/`expose` entry."""
    if key == "volumes":
        if item.is_map:
            return (item.get("target").text() if item.get("target") else "") or str(id(item))
        parts = (item.text() or "").split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    if key in ("secrets", "configs"):
        if item.is_map:
            target = item.get("target")
            source = item.get("source")
            return (target.text() if target else None) or f"/{source.text() if source else ''}"
        return f"/{item.text()}"
    if key == "ports" and item.is_map:
        parts = [item.get(k).text() if item.get(k) else "" for k in ("host_ip", "published", "target", "protocol")]
        return ":".join(p or "" for p in parts)
    return item.text() or str(id(item))


def _merge_unique(base: YNode, over: YNode, key: str) -> YNode:
    index = {_unique_key(key, item): i for i, item in enumerate(base.value)}
    for item in over.value:
        unique = _unique_key(key, item)
        if unique in index:
            base.value[index[unique]] = item
        else:
            index[unique] = len(base.value)
            base.value.append(item)
    return base
