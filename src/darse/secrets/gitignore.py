"""Making sure Git ignores real secret files: checked with Git itself, fixed in the root `.gitignore`.

Git is asked (`git check-ignore --no-index`), so nested `.gitignore` files, negations and global
excludes all count. A path left unignored gets `*.secrets` (or its own anchored path, for an env file
named otherwise) appended to the repository root's `.gitignore`, written atomically; if Git still does
not ignore it (a `!` rule un-ignores it), the old `.gitignore` is put back and the error names the path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from darse.errors import DarseError
from darse.fsutil import write_atomic
from darse.model.repository import Repository
from darse.model.service import SECRET_SUFFIX

PATTERN = "*" + SECRET_SUFFIX
_COMMENT = "# Real secret files stay on the hosts; only their *.secrets.example counterparts are committed."


@dataclass
class GitignoreFix:
    """What `ensure_ignored` would add, and enough to undo it."""

    path: Path
    old_text: str | None  # None: there was no .gitignore
    new_text: str
    unignored: list[str] = field(default_factory=list)  # the paths that needed it, relative to the root


def plan_gitignore(repository: Repository, paths: list[Path]) -> GitignoreFix | None:
    """The change `.gitignore` needs so that Git ignores every path in `paths`; None if none is needed."""
    relative = sorted({repository.relative(p) for p in paths if not repository.relative(p).startswith("/")})
    if not relative:
        return None
    target = repository.root / ".gitignore"
    old_text = _read(target)
    lines = (old_text or "").splitlines()
    if repository.git.is_repository:
        ignored = repository.git.ignored(relative)
        missing = [p for p in relative if p not in ignored]
    else:  # no Git yet: make sure the usual pattern is there for when there is
        missing = [p for p in relative if p.endswith(SECRET_SUFFIX) and PATTERN not in _stripped(lines)]
        missing += [p for p in relative if not p.endswith(SECRET_SUFFIX) and "/" + p not in _stripped(lines)]
    if not missing:
        return None
    additions: list[str] = []
    if any(p.endswith(SECRET_SUFFIX) for p in missing) and PATTERN not in _stripped(lines):
        additions.append(PATTERN)
    additions += ["/" + p for p in missing if not p.endswith(SECRET_SUFFIX) and "/" + p not in _stripped(lines)]
    if not additions:  # the pattern is there, yet Git does not ignore the path: a `!` rule wins
        raise DarseError(
            f"{missing[0]} is not ignored by Git although .gitignore has {PATTERN}",
            "a `!` rule in a .gitignore un-ignores it; remove that rule",
        )
    text = old_text or ""
    if text and not text.endswith("\n"):
        text += "\n"
    if _COMMENT not in lines:
        text += ("\n" if text else "") + _COMMENT + "\n"
    text += "".join(line + "\n" for line in additions)
    return GitignoreFix(target, old_text, text, missing)


def apply_gitignore(repository: Repository, fix: GitignoreFix) -> None:
    """Write the fix atomically and check with Git that it works; undo it and raise if it does not."""
    mode = _mode(fix.path)
    try:
        write_atomic(fix.path, fix.new_text, mode)
    except OSError as exc:
        raise DarseError(
            f"cannot write {repository.relative(fix.path)}: {exc.strerror}", "check the folder's permissions"
        ) from None
    if not repository.git.is_repository:
        return
    still = [p for p in fix.unignored if p not in repository.git.ignored(fix.unignored)]
    if still:
        undo_gitignore(fix)
        raise DarseError(
            f"{still[0]} is still not ignored by Git after adding it to .gitignore",
            "a `!` rule in a .gitignore un-ignores it; remove that rule",
        )


def undo_gitignore(fix: GitignoreFix) -> None:
    if fix.old_text is None:
        fix.path.unlink(missing_ok=True)
    else:
        write_atomic(fix.path, fix.old_text, _mode(fix.path))


def _read(path: Path) -> str | None:
    from darse.fsutil import read_bounded

    try:
        return read_bounded(path, 1024 * 1024, within=path.parent).decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DarseError(f"cannot read {path}: {exc}", "check .gitignore") from None


def _stripped(lines: list[str]) -> set[str]:
    return {line.strip() for line in lines}


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o644
