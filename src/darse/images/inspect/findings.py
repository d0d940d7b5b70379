"""Content worth a look, in any layer (a file deleted later is still downloadable by anyone who pulls
the image): private keys, `.env` files, shell histories, setuid/setgid and world-writable files, and
package manager caches left in the final filesystem. Found by path and mode (and a PEM header sniffed
from small files while indexing); file contents are never copied into the report."""

from __future__ import annotations

import posixpath
import stat
from dataclasses import dataclass

from darse.images.inspect.layers import DIR, FILE, LayerIndex, looks_like_key_name
from darse.images.inspect.tree import FileTree

HISTORIES = frozenset(
    {
        ".bash_history",
        ".ash_history",
        ".sh_history",
        ".zsh_history",
        ".python_history",
        ".mysql_history",
        ".psql_history",
        ".node_repl_history",
        ".lesshst",
        ".viminfo",
    }
)
_ENV_SAMPLES = (".example", ".sample", ".template", ".dist", ".defaults")
# Cache directories package managers fill and images should clean in the same RUN.
PACKAGE_CACHES = (
    ("apt", "var/cache/apt/archives"),
    ("apt", "var/lib/apt/lists"),
    ("apk", "var/cache/apk"),
    ("apk", "etc/apk/cache"),
    ("yum", "var/cache/yum"),
    ("dnf", "var/cache/dnf"),
    ("pip", "root/.cache/pip"),
    ("npm", "root/.npm"),
    ("yarn", "usr/local/share/.cache/yarn"),
    ("composer", "root/.composer/cache"),
    ("gem", "root/.gem"),
)


@dataclass(frozen=True)
class Finding:
    kind: str  # private-key | env-file | shell-history | setuid | setgid | world-writable | package-cache
    path: str
    layer: int
    visible: bool  # still in the final filesystem
    size: int
    detail: str = ""

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "path": "/" + self.path,
            "layer": self.layer,
            "visible": self.visible,
            "size": self.size,
            "detail": self.detail,
        }


_KEY_ENDINGS = (".pem", ".key", ".p12", ".pfx", ".ppk")  # a cheap test before the name's pattern
_FLAGGED_MODES = stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH


def find(layers: list[LayerIndex], tree: FileTree) -> list[Finding]:
    out: list[Finding] = []
    for number, layer in enumerate(layers):
        for entry in layer.entries.values():
            path = entry.path
            flagged = entry.mode & _FLAGGED_MODES or entry.key_like
            if not flagged and not (
                path.startswith((".", "id_"))  # a hidden name (every shell history's too), or id_rsa...
                or "/." in path
                or "/id_" in path
                or path.endswith(_KEY_ENDINGS)
            ):
                continue  # the common case: nothing to look at, seen on the whole path without cutting it
            base = path.rpartition("/")[2]
            if not (flagged or base.startswith(".") or looks_like_key_name(base)):
                continue
            node = tree.lookup(entry.path)
            visible = node is not None and node.layer == number
            out.extend(_entry_findings(entry, base, number, visible))
    out.extend(_caches(tree))
    out.sort(key=lambda f: (f.kind, f.path, f.layer))
    return out


def _entry_findings(entry, base: str, number: int, visible: bool) -> list[Finding]:
    out = []
    if entry.kind == FILE:
        if entry.key_like or (looks_like_key_name(entry.path) and entry.size and _key_dir(entry.path)):
            detail = "PEM private key header" if entry.key_like else "named like a private key"
            out.append(Finding("private-key", entry.path, number, visible, entry.size, detail))
        if base == ".env" or (base.startswith(".env.") and not base.endswith(_ENV_SAMPLES)):
            out.append(Finding("env-file", entry.path, number, visible, entry.size))
        if base in HISTORIES and entry.size:
            out.append(Finding("shell-history", entry.path, number, visible, entry.size))
        if entry.mode & stat.S_ISUID:
            out.append(Finding("setuid", entry.path, number, visible, entry.size, _owner(entry.uid)))
        if entry.mode & stat.S_ISGID:
            out.append(Finding("setgid", entry.path, number, visible, entry.size, f"gid {entry.gid}"))
    sticky_dir = entry.kind == DIR and entry.mode & stat.S_ISVTX  # /tmp-like sticky dirs are fine
    if entry.kind in (FILE, DIR) and entry.mode & stat.S_IWOTH and not sticky_dir:
        kind = "directory" if entry.kind == DIR else "file"
        out.append(Finding("world-writable", entry.path, number, visible, entry.size, kind))
    return out


def _key_dir(path: str) -> bool:
    """A key-named file outside the places where public certificates and test fixtures live."""
    return not path.startswith(("usr/share/", "etc/ssl/certs/", "usr/lib/python", "usr/local/lib/python"))


def _owner(uid: int) -> str:
    return "owned by root" if uid == 0 else f"owned by uid {uid}"


def _caches(tree: FileTree) -> list[Finding]:
    out = []
    for manager, root in PACKAGE_CACHES:
        node = tree.lookup(root)
        if node is None or node.children is None:
            continue
        size = count = 0
        stack = [node]
        while stack:
            current = stack.pop()
            if current.children is not None:
                stack.extend(current.children.values())
            elif current.entry is not None and current.entry.kind == FILE:
                name = posixpath.basename(current.entry.path)
                if name != "lock":
                    size += current.entry.size
                    count += 1
        if count:
            out.append(Finding("package-cache", root, node.layer, True, size, f"{manager}: {count} files left"))
    return out
