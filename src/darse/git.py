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
FETCH_TIMEOUT = 60.0  # seconds for one fetch: a remote that does not answer must not hold a page or a command
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


class CannotPull(GitError):
    """The checkout cannot take its upstream's commits: detached, no upstream, diverged, changes in the way."""


class FetchFailed(GitError):
    """The remote did not answer a fetch (unreachable, refused, credentials missing); named, never its URL."""


def without_credentials(url: str) -> str:
    """A remote URL without any user or token in it (`https://user:tok@host/x` → `https://host/x`)."""
    url = url.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme and parsed.netloc and "@" in parsed.netloc:
        host = parsed.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit((parsed.scheme, host, parsed.path, "", ""))
    return url


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **_ENV, **(extra or {})}


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
    env: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Run `git -C folder ARGS` and return (exit status, stdout bytes); any status outside `ok` is a
    `GitError` (`hint` is the one for "not a work tree": what darse needs Git for there; `env` adds
    variables to git's environment)."""
    command = ["git", "-C", str(folder), *args]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(env),
            start_new_session=True,  # its own process group (and no terminal): a kill reaches anything git started
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


class IncomingCommit(NamedTuple):
    """One commit of `Git.incoming`: its hash, subject, author, author time (epoch seconds) and files."""

    hash: str
    subject: str
    author: str
    time: int
    files: tuple[str, ...]


class Upstream(NamedTuple):
    """The branch checked out and the remote-tracking branch it follows (`git pull`'s source)."""

    branch: str  # main
    remote: str  # origin ("." for a local branch)
    ref: str  # origin/main, as `@{upstream}` abbreviates it


class Reflogged(NamedTuple):
    """One move of a branch recorded in Git's reflog: when, to which commit, and Git's message."""

    time: int
    commit: str
    message: str


_COMMIT_START = re.compile(rb"\x1e([0-9a-f]{40,64})\x1f")
MAX_SUBJECT = 300  # characters of an incoming commit's subject Git gives (cut, ending ".."): pages show them
MAX_AUTHOR = 100  # ... and of its author's name
# no prompt for credentials, by the terminal (there is none: see run) nor by an askpass program
_FETCH_ENV = {"GIT_ASKPASS": "", "SSH_ASKPASS": "", "SSH_ASKPASS_REQUIRE": "never"}


def _log_entries(out: bytes) -> Iterator[tuple[str, list[bytes], tuple[str, ...]]]:
    """(hash, header fields, files) of `git log -z --name-only --format=%x1e%H%x1f<fields split by %x1f>`."""
    parts = _COMMIT_START.split(out)  # ["", hash, rest, hash, rest, ...]
    for index in range(1, len(parts) - 1, 2):
        header, _, files = parts[index + 1].partition(b"\0")
        files = files.removeprefix(b"\n")  # the blank line between the header and the files
        yield parts[index].decode(), header.split(b"\x1f"), tuple(_paths(files))


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

    def run(
        self, *args: str, stdin: bytes | None = None, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        return run(self.folder, *args, stdin=stdin, ok=ok, timeout=self.timeout, hint=self.hint, env=env)

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
        return [
            LoggedCommit(commit, b"\x1f".join(header).decode("utf-8", "replace"), files)
            for commit, header, files in _log_entries(out)
        ]

    # the checkout and its upstream (`darse pull`): what a `git pull --ff-only` would bring, and doing it

    def branch(self) -> str:
        """The branch checked out; a detached HEAD has none and cannot pull."""
        code, out = self.run("symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1, 128))
        if code != 0 or not out.strip():
            raise CannotPull(
                f"the checkout {self.folder} is on a detached HEAD, not on a branch",
                "switch to the branch to follow first (git switch main)",
            )
        return out.decode("utf-8", "replace").strip()

    def upstream(self) -> Upstream:
        """The branch checked out and the remote-tracking branch `git pull` would take commits from."""
        branch = self.branch()
        code, out = self.run("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}", ok=(0, 128))
        if code != 0 or not out.strip():
            remotes = self.text("remote").split()
            if not remotes:
                raise CannotPull(
                    f"the checkout has no remote: the branch {branch} has nothing to pull from",
                    f"add the repository it comes from: git remote add origin URL && git fetch origin && "
                    f"git branch --set-upstream-to=origin/{branch} {branch}",
                )
            remote_name = "origin" if "origin" in remotes else remotes[0]
            raise CannotPull(
                f"the branch {branch} has no upstream to pull from",
                f"set one: git branch --set-upstream-to={remote_name}/{branch} {branch}",
            )
        remote = self.run("config", "--get", "--", f"branch.{branch}.remote", ok=(0, 1))[1]
        text = out.decode("utf-8", "replace").strip()
        return Upstream(branch, remote.decode("utf-8", "replace").strip() or ".", text)

    def fetch(self, remote: str, timeout: float = FETCH_TIMEOUT) -> None:
        """`git fetch REMOTE`, bounded in time, never prompting; a failure names the remote, never its URL
        (which may hold a user and a token)."""
        if remote == ".":
            return  # the upstream is a local branch: nothing to fetch
        if not remote or remote.startswith("-"):
            raise CannotPull(f"{remote!r} is not a remote", "see git remote -v")
        try:
            run(self.folder, "fetch", "--quiet", "--", remote, timeout=timeout, hint=self.hint, env=_FETCH_ENV)
        except GitTimeout:
            raise FetchFailed(
                f"fetching from {remote} took longer than {timeout:g} s",
                f"check that the remote {remote} answers (git fetch {remote})",
            ) from None
        except GitFailed as exc:
            reason = exc.message.removeprefix("git fetch failed: ").removeprefix("fatal: ")
            for url in self._remote_urls(remote):
                reason = reason.replace(url, remote).replace(without_credentials(url), remote)
            reason = _CREDENTIALS.sub(r"\1", reason)
            raise FetchFailed(
                f"could not fetch from {remote}: {reason}",
                f"check the remote {remote}'s address and credentials on this host (git fetch {remote})",
            ) from None

    def _remote_urls(self, remote: str) -> list[str]:
        try:
            out = self.run("remote", "get-url", "--all", "--", remote)[1]
        except GitError:
            return []
        return sorted({u for u in out.decode("utf-8", "replace").splitlines() if u.strip()}, key=len, reverse=True)

    def last_fetch(self) -> float | None:
        """When this clone last fetched (FETCH_HEAD's time, epoch seconds), None when it never did or its
        last fetch failed: git empties FETCH_HEAD when a fetch starts and fills it when it succeeds."""
        try:
            path = self.text("rev-parse", "--git-path", "FETCH_HEAD").strip()
            info = (self.folder / path).stat()
        except (GitError, OSError):
            return None
        return info.st_mtime if info.st_size > 0 else None

    def ahead_behind(self, target: str) -> tuple[int, int]:
        """(commits HEAD has that `target` has not, commits `target` has that HEAD has not)."""
        if target.startswith("-"):
            raise GitFailed(f"{target!r} is not a revision", "give a commit, tag or branch")
        ahead, behind = self.text("rev-list", "--left-right", "--count", f"HEAD...{target}", "--").split()
        return int(ahead), int(behind)

    def incoming(self, target: str, limit: int = 1000) -> list[IncomingCommit]:
        """The commits `target` has and HEAD has not (`HEAD..target`), newest first, at most `limit`, each
        with its author, time and the files it changed (merges list none: their parents do)."""
        if target.startswith("-"):
            raise GitFailed(f"{target!r} is not a revision", "give a commit, tag or branch")
        out = self.run(
            "log", f"--max-count={max(limit, 1)}", "--no-renames", "--name-only", "-z",
            f"--format=%x1e%H%x1f%<({MAX_AUTHOR},trunc)%an%x1f%at%x1f%<({MAX_SUBJECT},trunc)%s",
            f"HEAD..{target}", "--",
        )[1]  # fmt: skip
        commits = []
        for commit, header, files in _log_entries(out):
            author, when, subject = header[0], header[1:2] or [b""], b"\x1f".join(header[2:])
            text = subject.decode("utf-8", "replace").rstrip(" ")  # Git pads what it does not cut
            name = author.decode("utf-8", "replace").rstrip(" ")
            commits.append(IncomingCommit(commit, text, name, _int(when[0]), files))
        return commits

    def blocking_changes(self, target: str) -> list[str]:
        """Uncommitted files (changed or untracked) that a fast-forward to `target` would overwrite."""
        changed = set(self.changed_between("HEAD", target) or ())
        return sorted(path for path in self.working_changes() if path in changed)

    def fast_forward(self, target: str, reflog: str) -> None:
        """Move the branch checked out and the working tree to `target` if that is a fast-forward (what
        `git pull --ff-only` does after its fetch, to exactly the commit the user saw). `reflog` is what
        Git's reflog records for the move (who pulled), shown by `git reflog`."""
        if not re.fullmatch(r"[0-9a-f]{40,64}", target):
            raise GitFailed(f"{target!r} is not a full commit hash", "give the commit to fast-forward to")
        upstream = self.upstream()
        if self.run("merge-base", "--is-ancestor", "HEAD", target, ok=(0, 1))[0] != 0:
            raise diverged(upstream)
        blocking = self.blocking_changes(target)
        if blocking:
            raise blocked(blocking)
        self.run("merge", "--ff-only", "--quiet", "--no-edit", target, env={"GIT_REFLOG_ACTION": reflog})

    def moves(self, branch: str, limit: int = 200) -> list[Reflogged]:
        """The latest moves of `branch` in Git's reflog, newest first (none when it has no reflog)."""
        if branch.startswith("-"):
            return []
        code, out = self.run(
            "log", "-g", "--date=unix", f"--max-count={max(limit, 1)}", "--format=%gd%x1f%H%x1f%gs",
            f"refs/heads/{branch}", "--", ok=(0, 128),
        )  # fmt: skip
        if code != 0:
            return []
        moves = []
        for line in out.decode("utf-8", "replace").splitlines():
            selector, _, rest = line.partition("\x1f")
            commit, _, message = rest.partition("\x1f")
            moves.append(Reflogged(_int(selector.rpartition("@{")[2].rstrip("}")), commit, message))
        return moves

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


def _int(text: bytes | str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def diverged(upstream: Upstream) -> CannotPull:
    """The checkout has commits of its own that its upstream has not: no fast-forward."""
    return CannotPull(
        f"the branch {upstream.branch} and {upstream.ref} have diverged: a fast-forward cannot take their commits",
        f"reconcile them by hand in the checkout (git rebase {upstream.ref}, or git merge), then pull again",
    )


def blocked(paths: list[str], listed: int = 3) -> CannotPull:
    """Uncommitted changes to files the pull would change: Git refuses to overwrite them."""
    shown = ", ".join(paths[:listed]) + (f" and {len(paths) - listed} more" if len(paths) > listed else "")
    return CannotPull(
        f"uncommitted changes to files the pull changes: {shown}",
        "commit, stash (git stash) or remove them in the checkout, then pull again",
    )
