"""YAML read with positions: every value remembers its line and column.

PyYAML's libyaml composer builds the node tree in C; we only walk it once into light `YNode`s, which is
an order of magnitude cheaper than a round-trip loader. Merge keys (`<<: *anchor`) are applied the way
Compose applies them, so rules see the effective service definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_BOOL_TRUE = {"true", "True", "TRUE"}
_BOOL_FALSE = {"false", "False", "FALSE"}
_MAX_DEPTH = 200
_MERGE_TAGS = ("!reset", "!override")
_SAFE_INDICATORS = 1_000  # texts with fewer collection indicators are composed without a nesting scan


class YamlError(Exception):
    """A YAML document that cannot be read; carries the 1-based position of the problem."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(slots=True)
class YNode:
    """One YAML value with its 1-based position.

    `value` is a `dict[str, YNode]` for a mapping, a `list[YNode]` for a sequence, and a str, int, float,
    bool or None for a scalar. `keys` holds the key nodes of a mapping (for positions of keys).
    """

    value: Any
    line: int
    column: int
    keys: dict[str, YNode] | None = None
    quoted: bool = False
    raw: str | None = None  # the text before `${VAR}` interpolation, when interpolation changed it
    tag: str | None = None  # Compose's merge tags only: `!reset`, `!override` (darse.model.overrides)

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def get(self, key: str) -> YNode | None:
        """The child at `key` of a mapping, or None (also None when this node is not a mapping)."""
        return self.value.get(key) if isinstance(self.value, dict) else None

    def items(self) -> list[tuple[str, YNode]]:
        return list(self.value.items()) if isinstance(self.value, dict) else []

    def children(self) -> list[YNode]:
        if isinstance(self.value, dict):
            return list(self.value.values())
        return list(self.value) if isinstance(self.value, list) else []

    def key_node(self, key: str) -> YNode:
        """The node of the key itself (its position), falling back to this mapping's position."""
        if self.keys and key in self.keys:
            return self.keys[key]
        return self

    def text(self) -> str | None:
        """The scalar as a string (Compose reads most scalars as strings), None for collections."""
        if isinstance(self.value, dict | list):
            return None
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)

    def plain(self) -> Any:
        """The value as plain Python data, positions dropped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def load_yaml(text: str) -> YNode | None:
    """Parse one YAML document. Returns None for an empty document; raises YamlError otherwise."""
    try:
        _check_nesting(text)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        last = max(len(text.splitlines()), 1)
        if line > last:  # an error at the end of the file: point at its last line
            line, col = last, 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(f"YAML syntax error: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML error: {exc}".splitlines()[0]) from None
    except (ValueError, RecursionError) as exc:
        raise YamlError(f"YAML error: {exc}".splitlines()[0]) from None
    if node is None:
        return None
    return _convert(node, 0, {})


def _check_nesting(text: str) -> None:
    """Refuse nesting deeper than _MAX_DEPTH before PyYAML's C composer sees it: it recurses once per
    level and, some 20,000 levels down (`[[[[...`, 40 KB), overflows the C stack and kills the process.
    Every collection starts with or holds one of `[ { - : ?`, so a text with few of them cannot nest
    deeply; only the others pay for this scan of libyaml's (non-recursive) event stream."""
    if sum(map(text.count, "[{-:?")) <= _SAFE_INDICATORS:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                mark = event.start_mark
                raise YamlError("YAML nested too deeply", mark.line + 1, mark.column + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _convert(node: yaml.Node, depth: int, seen: dict[int, YNode]) -> YNode:
    if depth > _MAX_DEPTH:
        raise YamlError("YAML nested too deeply", node.start_mark.line + 1, node.start_mark.column + 1)
    cached = seen.get(id(node))
    if cached is not None:  # an alias: share the converted node (anchors cannot recurse in libyaml)
        return cached
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        out = YNode(_scalar(node), line, col, quoted=node.style in ("'", '"'))
    elif isinstance(node, yaml.SequenceNode):
        out = YNode([], line, col)
        seen[id(node)] = out
        out.value.extend(_convert(child, depth + 1, seen) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        out = YNode({}, line, col, keys={})
        seen[id(node)] = out
        _fill_mapping(out, node, depth, seen)
    else:  # pragma: no cover - PyYAML has no other node kinds
        raise YamlError("unsupported YAML node", line, col)
    if node.tag in _MERGE_TAGS:
        out.tag = node.tag
    seen[id(node)] = out
    return out


def _fill_mapping(out: YNode, node: yaml.MappingNode, depth: int, seen: dict[int, YNode]) -> None:
    merged: list[YNode] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            merged.append(_convert(value_node, depth + 1, seen))
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlError(
                "a mapping key must be a plain value", key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
        key = key_node.value
        if key in out.value:
            raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        out.keys[key] = YNode(key, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        out.value[key] = _convert(value_node, depth + 1, seen)
    # `<<` merges: explicit keys win, then earlier merged mappings win over later ones.
    for source in merged:
        sources = source.value if source.is_list else [source]
        for item in sources:
            if not isinstance(item, YNode) or not item.is_map:
                raise YamlError("a merge key (<<) must point at a mapping", out.line, out.column)
            for key, value in item.value.items():
                if key not in out.value:
                    out.value[key] = value
                    out.keys[key] = item.key_node(key)


def _scalar(node: yaml.ScalarNode) -> Any:
    """Scalars typed as YAML 1.2 (what Compose's Go parser does): yes/no/on/off stay strings."""
    text = node.value
    if node.style in ("'", '"', "|", ">"):
        return text
    tag = node.tag
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
        return text
    if tag == "tag:yaml.org,2002:int":
        return _int(text)
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def _int(text: str) -> int | str:
    """YAML 1.2 integers; YAML 1.1 oddities such as `80:80` (base 60) stay strings, as in Compose."""
    digits = text.replace("_", "")
    try:
        if digits.lower().startswith(("0x", "0o", "+0x", "-0x", "+0o", "-0o")):
            return int(digits, 0)
        return int(digits, 10)
    except ValueError:
        return text
