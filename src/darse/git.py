"""Git, the one module that runs it: one bounded runner, one bounded stream, and the questions darse asks.

Every other module asks `Git(folder)` a question (tracked files, working changes, HEAD, ...) instead of
running `git` itself, so that argument lists, `--` before paths, time bounds, the decoding of paths and
the wording of failures are decided here once. Paths come back exactly as Git stores them: read with
`-z` and decoded like file names (`os.fsdecode`), so spaces, quotes, newlines and non-ASCII survive.

Failures are `GitError`s (a `DarseError` with a hint): git missing, too slow, the folder not in a work
tree, a command refused. Questions whose callers treat a failure as "no answer" (is this a work tree,
which files are tracked or ignored, the origin URL) return an empty answer instead.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from darse.errors import DarseError

TIMEOUT = 120.0  # seconds for one question; a hung git (a lock, a credential prompt) must not hang darse
LOG_TIMEOUT = 900.0  # seconds for a whole-log stream (`secrets check --history` on a long history)
MAX_LINE = 1 << 20  # bytes kept of one streamed line; the rest of a longer line is read and dropped
NOT_A_WORK_TREE_HINT = "run darse in a Git clone of the repository (or git init it)"

# English messages (they are matched below), no prompt for credentials, no index refresh written by
# `git status` in a checkout others may be using at the same time
_ENV = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
_CHECK_HINT = "check the repository with git status"
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s]+@")


class GitError(DarseError):
    """Git could not answer: missing, too slow, not a work tree, or a command it refused."""


class GitMissing(GitError):
    """No `git` program to run."""


class GitTimeout(GitError):
    """Git ran longer than its time bound and was killed."""


class NotAWorkTree(GitError):
    """The folder is not inside a Git work tree (or does not exist)."""


class GitFailed(GitError):
    """Git ran and refused (an unknown revision, a path that is not there, ...)."""


def without_credentials(url: str) -> str:
    """A remote URL without any user or token in it (`https://user:tok@host/x` → `https://host/x`)."""
    url = url.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme and parsed.netloc and "@" in parsed.netloc:
        host = parsed.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit((parsed.scheme, host, parsed.path, "", ""))
    return url


def _environment() -> dict[str, str]:
    return {**os.environ, **_ENV}


def _first_line(stderr: bytes) -> str:
    """Git's own reason, one line, with any credentials in a URL cut out (errors are shown to users)."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith("hint:")] or lines
    return _CREDENTIALS.sub(r"\1", reasons[0].strip()) if reasons else ""


def _subcommand(args: tuple[str, ...]) -> str:
    """`log` in `-c core.quotePath=false log --all ...`: how an error names what failed."""
    words = iter(args)
    for word in words:
        if word == "-c":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return args[0] if args else ""


def _missing(exc: OSError) -> GitMissing:
    return GitMissing(f"cannot run git: {exc.strerror or exc}", "install Git (Debian: apt-get install git)")


def _timeout(folder: Path, args: tuple[str, ...], timeout: float) -> GitTimeout:
    return GitTimeout(
        f"git {_subcommand(args)} took longer than {timeout:g} s in {folder}",
        "check the repository with git status (a lock left behind, a huge history?) and try again",
    )


def _failure(folder: Path, args: tuple[str, ...], code: int, stderr: bytes, hint: str) -> GitError:
    reason = _first_line(stderr)
    lowered = reason.lower()
    if "not a git repository" in lowered or "cannot change to" in lowered:
        return NotAWorkTree(f"{folder} is not in a Git work tree", hint)
    return GitFailed(f"git {_subcommand(args)} failed: {reason or f'exit status {code}'}", _CHECK_HINT)


def run(
    folder: Path,
    *args: str,
    stdin: bytes | None = None,
    ok: tuple[int, ...] = (0,),
    timeout: float = TIMEOUT,
    hint: str = NOT_A_WORK_TREE_HINT,
) -> tuple[int, bytes]:
    """Run `git -C folder ARGS` and return (exit status, stdout bytes); any status outside `ok` is a
    `GitError` (`hint` is the one for "not a work tree": what darse needs Git for there)."""
    command = ["git", "-C", str(folder), *args]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(),
            start_new_session=True,  # its own process group: a kill reaches anything git started
        )
    except OSError as exc:
        raise _missing(exc) from None
    with proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise _timeout(folder, args, timeout) from None
        except BaseException:
            _kill(proc)
            raise
    if proc.returncode not in ok:
        raise _failure(folder, args, proc.returncode, err, hint)
    return proc.returncode, out


def _kill(proc: subprocess.Popen) -> None:
    """Kill git and whatever it started (its process group), if still running."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group outlives git while a child of it runs
    except OSError:
        if proc.returncode is None:
            proc.kill()


@contextmanager
def stream(
    folder: Path,
    *args: str,
    timeout: float = LOG_TIMEOUT,
    tolerated: str = "",
    hint: str = NOT_A_WORK_TREE_HINT,
) -> Iterator[Iterator[str]]:
    """`git -C folder ARGS` read line by line (decoded, newline removed, each line at most `MAX_LINE`
    bytes) as it runs: memory stays bounded whatever the output's size. The process is killed when the
    block ends, early or after `timeout` seconds; a failure is raised once the whole output was read,
    unless git's message contains `tolerated` (an answer, like "does not have any commits")."""
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                ["git", "-C", str(folder), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=_environment(),
                start_new_session=True,
            )
        except OSError as exc:
            raise _missing(exc) from None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _kill(proc)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        assert proc.stdout is not None
        stopped_early = True
        try:
            yield _lines(proc.stdout)
            stopped_early = proc.stdout.read(1) != b""
        finally:
            timer.cancel()
            if stopped_early:
                _kill(proc)
            proc.stdout.close()
            status = proc.wait()
        if expired.is_set():
            raise _timeout(folder, args, timeout)
        if status != 0 and not stopped_early:
            errors.seek(0)
            stderr = errors.read(64 * 1024)
            if not (tolerated and tolerated in stderr.decode("utf-8", "replace")):
                raise _failure(folder, args, status, stderr, hint)


def _lines(pipe) -> Iterator[str]:
    while True:
        raw = pipe.readline(MAX_LINE)
        if not raw:
            return
        if not raw.endswith(b"\n") and len(raw) == MAX_LINE:
            while (rest := pipe.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                pass  # the rest of an over-long line is dropped, not read as lines of its own
        yield raw.decode("utf-8", errors="replace").rstrip("\n")


def _paths(out: bytes) -> list[str]:
    """NUL-separated paths (`-z` output) decoded as file names."""
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def parse_status(out: bytes) -> list[str]:
    """The paths of `git status --porcelain -z`: `XY path\\0`, a rename or copy followed by its source
    (`R  new\\0old\\0`), which is not listed; paths exactly as stored (no quoting with `-z`)."""
    entries = out.split(b"\0")
    paths: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(os.fsdecode(entry[3:]))
        if entry[:1] in (b"R", b"C") or entry[1:2] in (b"R", b"C"):
            index += 1  # the source path of the rename or copy
    return paths


class LoggedCommit(NamedTuple):
    """One commit of `Git.commits_between`: its hash, its subject, the files it changed (from the top level)."""

    hash: str
    subject: str
    files: tuple[str, ...]


_COMMIT_START = re.compile(rb"\x1e([0-9a-f]{40,64})\x1f")


def _pathspec(path: str) -> str:
    """A path relative to the Git top level as a literal pathspec (the whole tree for "")."""
    path = path.strip("/")
    return f":(top,literal){path}" if path else ":(top)"


class Git:
    """The Git work tree around `folder` (any folder inside it). Paths given to and returned by the
    revision questions are relative to the top level; `tracked_files` is relative to `folder`.
    `hint` tells a user whose folder is not in a work tree what darse needs Git for there."""

    def __init__(self, folder: Path, hint: str = NOT_A_WORK_TREE_HINT, timeout: float = TIMEOUT) -> None:
        self.folder = folder
        self.hint = hint
        self.timeout = timeout

    def run(self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,)) -> tuple[int, bytes]:
        return run(self.folder, *args, stdin=stdin, ok=ok, timeout=self.timeout, hint=self.hint)

    def text(self, *args: str) -> str:
        return self.run(*args)[1].decode("utf-8", "replace")

    # questions whose failure is "no answer" (the model and lint read any folder, Git or not)

    @cached_property
    def is_work_tree(self) -> bool:
        try:
            return self.run("rev-parse", "--is-inside-work-tree")[1] == b"true\n"
        except GitError:
            return False

    def tracked_files(self) -> frozenset[str]:
        """Files Git tracks under `folder`, relative to it; empty outside a work tree."""
        try:
            return frozenset(_paths(self.run("ls-files", "-z", "--cached", "--", ".")[1]))
        except GitError:
            return frozenset()

    def ignored(self, paths: list[str]) -> set[str]:
        """The subset of `paths` (relative to `folder`) that .gitignore rules ignore, tracked or not;
        empty outside a work tree. Exit status 1 is "none ignored", an answer."""
        if not paths:
            return set()
        stdin = b"".join(os.fsencode(p) + b"\0" for p in paths)
        try:
            return set(_paths(self.run("check-ignore", "--no-index", "-z", "--stdin", stdin=stdin, ok=(0, 1))[1]))
        except GitError:
            return set()

    def origin_url(self) -> str:
        """The `origin` remote's URL without credentials, or "" when there is none."""
        try:
            return without_credentials(self.text("remote", "get-url", "--", "origin"))
        except GitError:
            return ""

    # questions that need a work tree (a GitError otherwise)

    def prefix(self) -> str:
        """`folder`'s path inside the work tree (`""` at the top, else `sub/dir/`)."""
        return self.text("rev-parse", "--show-prefix").strip()

    def head(self) -> str:
        """The commit checked out (full hash)."""
        code, out = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok=(0, 1))
        if code != 0 or not out.strip():
            raise GitFailed(f"the repository {self.folder} has no commit yet", "commit the service first")
        return out.decode().strip()

    def resolve(self, revision: str) -> str:
        """The commit a revision (hash, tag, branch, `HEAD~2`, ...) names."""
        if not revision or revision.startswith("-"):
            raise GitFailed(f"{revision!r} is not a revision", "give a commit, tag or branch")
        try:
            code, out = self.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", ok=(0, 1))
        except GitFailed:  # a malformed name (`a..b`, `x^{tree}`) is as unknown as a missing one
            code, out = 1, b""
        if code != 0 or not out.strip():
            raise GitFailed(f"unknown revision {revision!r}", "see `git log` or `darse history SERVICE`")
        return out.decode().strip()

    def knows(self, commit: str) -> bool:
        """Whether `commit` is a commit of this repository."""
        if not commit or commit.startswith("-"):
            return False
        return self.run("cat-file", "-e", f"{commit}^{{commit}}", ok=(0, 1, 128))[0] == 0

    def has_path(self, commit: str, path: str) -> bool:
        """Whether `path` (from the top level) exists as of `commit`."""
        if commit.startswith("-"):
            return False
        return self.run("cat-file", "-e", f"{commit}:{path}", ok=(0, 1, 128))[0] == 0

    def commit_time(self, commit: str) -> int:
        """The committer time of `commit` (a full hash, see `head` and `resolve`), seconds since the epoch."""
        if commit.startswith("-"):
            raise GitFailed(f"{commit!r} is not a revision", "give a commit, tag or branch")
        return int(self.text("log", "-1", "--format=%ct", commit, "--").strip())

    def working_changes(self, path: str = "") -> list[str]:
        """Tracked files modified (staged or not) and untracked files not ignored, under `path` (from the
        top level, "" for the whole tree); returned relative to the top level."""
        out = self.run("status", "--porcelain", "-z", "--untracked-files=all", "--", _pathspec(path))[1]
        return parse_status(out)

    def changed_between(self, old: str, new: str) -> list[str] | None:
        """Files that differ between two commits (whole repository, one call; callers filter by folder);
        None when `old` is not a commit of this repository."""
        if not old or old.startswith("-") or new.startswith("-"):
            return None
        code, out = self.run("diff", "--name-only", "-z", "--no-renames", old, new, "--", ok=(0, 1, 128))
        return _paths(out) if code == 0 else None

    def commits_between(self, old: str, new: str, limit: int = 1000) -> list[LoggedCommit] | None:
        """The commits `new` has and `old` has not (`old..new`), newest first, at most `limit`, each with
        the files it changed: one call answers "how far behind" for every folder deployed at `old`.
        None when `old` is not a commit of this repository. Merges list no files (their parents do)."""
        if not old or old.startswith("-") or new.startswith("-"):
            return None
        code, out = self.run(
            "log", f"--max-count={max(limit, 1)}", "--no-renames", "--name-only", "-z",
            "--format=%x1e%H%x1f%s", f"{old}..{new}", "--", ok=(0, 128),
        )  # fmt: skip
        if code != 0:
            return None
        parts = _COMMIT_START.split(out)  # ["", hash, rest, hash, rest, ...]
        commits = []
        for index in range(1, len(parts) - 1, 2):
            subject, _, files = parts[index + 1].partition(b"\0")
            files = files.removeprefix(b"\n")  # the blank line between the header and the files
            text = subject.decode("utf-8", "replace")
            commits.append(LoggedCommit(parts[index].decode(), text, tuple(_paths(files))))
        return commits

    def archive(self, commit: str, path: str) -> bytes:
        """Folder `path` (from the top level) as of `commit`, as an uncompressed tar of its contents."""
        if commit.startswith("-"):
            raise GitFailed(f"{commit!r} is not a revision", "give a commit, tag or branch")
        return self.run("archive", "--format=tar", f"{commit}:{path}")[1]

    @contextmanager
    def log_lines(self, *options: str, paths: list[str], timeout: float = LOG_TIMEOUT) -> Iterator[Iterator[str]]:
        """`git log --all OPTIONS -- PATHS` as a bounded stream of lines (see `stream`); a repository
        without commits gives no lines."""
        command = ["-c", "core.quotePath=false", "log", "--all", *options, "--", *paths]
        with stream(
            self.folder, *command, timeout=timeout, tolerated="does not have any commits", hint=self.hint
        ) as lines:
            yield lines


def check_clean(what: str, dirty: list[str], allow_dirty: bool, *, hint: str, listed: int = 1) -> bool:
    """Refuse uncommitted changes (`dirty` paths) unless allowed, since what darse does next is
    labelled or recorded with the commit; whether there were any (a deploy records it).
    `what` names the refused thing, `hint` says how this command proceeds anyway."""
    if dirty and not allow_dirty:
        shown = ", ".join(dirty[:listed])
        more = f" and {len(dirty) - listed} more" if len(dirty) > listed else ""
        raise DarseError(f"{what} has uncommitted changes ({shown}{more})", hint)
    return bool(dirty)
