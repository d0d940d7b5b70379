"""The image's filesystem as the layers stack up, as overlay2 builds it: each layer's opaque
directories and whiteouts remove from what the lower layers left, then its entries are laid on top.

A tree of nodes (not a flat dict of paths) so that deleting or hiding a whole directory is one
`dict.pop` plus one walk of the removed subtree: every node is created once and removed at most once,
so stacking N layers costs time linear in the total number of entries, however many directories the
later layers delete (dive rebuilds the lower tree on each deletion instead).

Every non-directory entry that disappears is recorded as a `Lost` (deleted, overwritten or hidden by
an opaque directory): that is where the wasted bytes and the "removed but still readable" files come from.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from darse.images.inspect.layers import DIR, Entry, LayerIndex

DELETED, OVERWRITTEN, HIDDEN = "deleted", "overwritten", "hidden"


class Node:
    __slots__ = ("children", "entry", "layer")

    def __init__(self, layer: int, entry: Entry | None, children: dict[str, Node] | None) -> None:
        self.layer = layer  # index of the layer this version comes from
        self.entry = entry  # None for a directory only implied by its children
        self.children = children  # None for anything but a directory

    @property
    def is_dir(self) -> bool:
        return self.children is not None


@dataclass(slots=True)
class Lost:
    """A version of a path that a later layer made invisible."""

    entry: Entry
    layer: int  # where this version lives (still readable there)
    by_layer: int  # which layer removed it
    how: str  # deleted | overwritten | hidden


@dataclass
class LayerChanges:
    added: int = 0
    modified: int = 0
    removed: int = 0


class FileTree:
    """Apply layers bottom to top; `lost` collects every version that did not survive."""

    def __init__(self) -> None:
        self.root = Node(-1, None, {})
        self.lost: list[Lost] = []

    def apply(self, index: int, layer: LayerIndex) -> LayerChanges:
        changes = LayerChanges()
        for directory in layer.opaque:
            node = self.lookup(directory)
            if node is not None and node.is_dir and node.children:
                old, node.children = node.children, {}
                for child in old.values():
                    changes.removed += self._drop(child, index, HIDDEN)
        for path in layer.whiteouts:
            parent = self.lookup(posixpath.dirname(path))
            if parent is not None and parent.is_dir:
                child = parent.children.pop(posixpath.basename(path), None)
                if child is not None:
                    changes.removed += self._drop(child, index, DELETED)
        # Entries of one directory come together (tar order): its node is looked up once for them all.
        # Placing `head/name` only changes `head`'s children, never `head` or what leads to it.
        # A new name that is not a directory, the common case, is placed here without a call.
        head, parent, added = None, self.root, 0
        for entry in layer.entries.values():
            folder, _, name = entry.path.rpartition("/")
            if folder != head:
                head, parent = folder, self._directory(index, folder)
            children = parent.children
            if entry.kind != DIR and name not in children:  # type: ignore[operator]
                children[name] = Node(index, entry, None)  # type: ignore[index]
                added += 1
            else:
                self._place(index, parent, name, entry, changes)
        changes.added += added
        return changes

    def _directory(self, index: int, path: str) -> Node:
        """The directory node at `path`, made (implied by a child) where missing or not a directory."""
        node = self.root
        if not path:
            return node
        for part in path.split("/"):
            child = node.children.get(part)
            if child is None or not child.is_dir:
                if child is not None:
                    self._drop(child, index, OVERWRITTEN)
                child = Node(index, None, {})
                node.children[part] = child
            node = child
        return node

    def _place(self, index: int, node: Node, name: str, entry: Entry, changes: LayerChanges) -> None:
        old = node.children.get(name)
        if entry.kind == DIR:
            if old is not None and old.is_dir:
                old.entry, old.layer = entry, index  # metadata change; the contents stay
                return
            node.children[name] = Node(index, entry, {})
        else:
            node.children[name] = Node(index, entry, None)
        if old is None:
            changes.added += entry.kind != DIR
        else:
            dropped = self._drop(old, index, OVERWRITTEN)
            if entry.kind != DIR and not old.is_dir:
                changes.modified += 1
            else:
                changes.removed += dropped
                changes.added += entry.kind != DIR

    def _drop(self, node: Node, by_layer: int, how: str) -> int:
        """Record every non-directory version under `node` as lost; returns how many."""
        count = 0
        stack = [node]
        while stack:
            current = stack.pop()
            if current.children is not None:
                stack.extend(current.children.values())
            elif current.entry is not None:
                self.lost.append(Lost(current.entry, current.layer, by_layer, how))
                count += 1
        return count

    def lookup(self, path: str) -> Node | None:
        node = self.root
        if not path:
            return node
        for part in path.split("/"):
            if node.children is None:
                return None
            node = node.children.get(part)
            if node is None:
                return None
        return node

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every visible node with its path, depth first, without recursion (paths may be deep)."""
        stack: list[tuple[str, Node]] = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            if node.children is None:
                continue
            for name in sorted(node.children, reverse=True):
                child = node.children[name]
                path = f"{prefix}/{name}" if prefix else name
                yield path, child
                if child.children is not None:
                    stack.append((path, child))

    def nodes(self) -> Iterator[Node]:
        """Every visible node, in no particular order (cheaper than `walk`: no sorting, no paths)."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            for child in node.children.values():  # type: ignore[union-attr]
                yield child
                if child.children is not None:
                    stack.append(child)

    def resolve(self, path: str, max_hops: int = 40) -> tuple[str, Node] | None:
        """Follow symlinks inside the image (never outside its root) to the node `path` names."""
        for _ in range(max_hops):
            node = self.lookup(path)
            if node is None or node.entry is None or node.entry.kind != "l":
                return (path, node) if node is not None else None
            target = node.entry.link
            base = "/" if target.startswith("/") else "/" + posixpath.dirname(path)
            path = posixpath.normpath(posixpath.join(base, target)).lstrip("/")
        return None
