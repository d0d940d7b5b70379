"""What a build fetches (git clones, URLs, ADD): the same thing on every rebuild."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.lint.rules.dockerfile.common import command_position, runs
from darse.lint.shell import program, split_commands
from darse.model.dockerfiles import Dockerfile, arg_pairs, env_pairs, unquote
from darse.model.interpolate import InterpolationError, interpolate

MOVING_REFS = {"latest", "master", "main", "head", "develop", "dev", "trunk", "nightly", "edge"}
_URL = re.compile(r"""(?:https?|ftp)://[^\s'"`;|&<>)]+""")
_VERSION_IN_URL = re.compile(r"(?<![0-9A-Za-z])v?\d+\.\d+(?:\.\d+)*")
_ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst|lz|lzma))$", re.IGNORECASE)


def _clone_is_pinned(command: list[str]) -> bool:
    for index, arg in enumerate(command):
        value = None
        if arg in ("-b", "--branch") and index + 1 < len(command):
            value = command[index + 1]
        elif arg.startswith("--branch="):
            value = arg.split("=", 1)[1]
        if value is not None:
            return "$" in value or value.lower() not in MOVING_REFS
    return False


def _is_checkout(command: list[str]) -> bool:
    if program(command) != "git":
        return False
    words = [w for w in command[1:] if not w.startswith("-")]
    # skip `git -C dir`
    if "-C" in command:
        position = command.index("-C")
        words = [w for w in command[position + 2 :] if not w.startswith("-")]
    if not words or words[0] not in ("checkout", "reset", "switch"):
        return False
    refs = words[1:]
    return bool(refs) and all(ref.lower() not in MOVING_REFS and not ref.startswith("origin/") for ref in refs[:1])


@dockerfile_rule(
    "DF004",
    "git-clone-unpinned",
    "git clone of a moving branch",
    Severity.WARNING,
    """`git clone` without `--branch <tag>` or a later `git checkout <tag|commit>` builds whatever
    the default branch holds that day: the build is no longer reproducible. Pin the version with an
    `ARG ..._VERSION` and check it out (or use a submodule).""",
)
def git_clone_unpinned(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    scripts = list(runs(dockerfile))
    checkouts_after: list[bool] = []
    seen_checkout = False
    for _instruction, script in reversed(scripts):
        commands = split_commands(script)
        seen_checkout = seen_checkout or any(_is_checkout(c) for c in commands)
        checkouts_after.append(seen_checkout)
    checkouts_after.reverse()
    for (instruction, script), later_checkout in zip(scripts, checkouts_after, strict=True):
        commands = split_commands(script)
        for index, command in enumerate(commands):
            if program(command) == "git" and "clone" in command[1:3] and not _clone_is_pinned(command):
                if later_checkout:
                    continue
                line, col = command_position(dockerfile, instruction, commands, index)
                yield Hit("git clone without a pinned tag or commit; add --branch <tag> or git checkout", line, col)


def _urls(dockerfile: Dockerfile) -> Iterator[tuple[str, bool, Callable[[], tuple[int, int]]]]:
    """URLs of RUN scripts and ADD sources, with whether they are fetched by curl/wget/ADD and where
    each is written (a URL repeated in one RUN, as in a `case` per architecture, at each place). The
    position is a function: finding it costs a regex per URL, paid only for a finding."""
    for instruction, script in runs(dockerfile):
        urls = _URL.findall(script)
        if not urls:
            continue
        fetchers = {program(c) for c in split_commands(script)}
        fetched = bool(fetchers & {"curl", "wget", "aria2c", "fetch"})
        for index, url in enumerate(urls):
            yield url, fetched, partial(dockerfile.position, instruction, url, urls[:index].count(url))
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "ADD":
                for source in map(unquote, instruction.args[:-1]):
                    if _URL.fullmatch(source):
                        yield source, True, partial(dockerfile.position, instruction, source)


def _moving_segment(url: str) -> str | None:
    path = url.split("://", 1)[-1].split("?", 1)
    segments = path[0].split("/")[1:]
    query = path[1] if len(path) > 1 else ""
    for segment in segments:
        stem = segment.lower()
        for suffix in (".tar.gz", ".tar.xz", ".tar.bz2", ".tgz", ".zip", ".tar", ".sh", ".git"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        if stem in ("latest", "master", "main", "head") or segment == "HEAD":
            return segment
    for pair in query.split("&"):
        if pair.partition("=")[2].lower() in ("latest", "master", "main", "head"):
            return pair
    return None


@dockerfile_rule(
    "DF005",
    "moving-download",
    "Download of a moving target",
    Severity.WARNING,
    """A URL that names `latest`, `master`, `main` or `HEAD` downloads something different every
    month: the guide forbids it for reproducible builds. Download a fixed release instead.""",
)
def moving_download(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for url, _fetched, where in _urls(dockerfile):
        segment = _moving_segment(url)
        if segment:
            yield Hit(f"URL points at a moving target ({segment}): {url}", *where())


@dockerfile_rule(
    "DF006",
    "download-version-hardcoded",
    "Downloaded version written into the URL",
    Severity.WARNING,
    """The guide keeps the version of what a Dockerfile downloads in one `ARG SERVICE_VERSION=1.0.1`
    reused in the URL, so an upgrade is a one-line change and `darse build` can pass the version.""",
)
def download_version_hardcoded(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for url, fetched, where in _urls(dockerfile):
        if not fetched or "$" in url or _moving_segment(url):
            continue
        path = url.split("://", 1)[-1].partition("/")[2]
        version = _VERSION_IN_URL.search(path)
        if version:
            yield Hit(f"version {version.group(0)} is written into the URL; use an ARG ..._VERSION instead", *where())


@dockerfile_rule(
    "DF012",
    "add-instead-of-copy",
    "ADD where COPY fits",
    Severity.WARNING,
    """ADD also fetches URLs and unpacks archives; for plain local files COPY says what it does
    and nothing more. Same check as hadolint DL3020.""",
)
def add_instead_of_copy(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        known: dict[str, str] = {}  # ARG and ENV values in scope, as BuildKit expands ADD's sources
        for instruction in stage.instructions:
            if instruction.cmd == "ARG":
                for name, value in arg_pairs(instruction).items():
                    default = value if value is not None else dockerfile.global_args.get(name)
                    if default is not None:
                        known[name] = _expanded(default, known) or default
            elif instruction.cmd == "ENV":
                known.update(env_pairs(instruction))
            if instruction.cmd != "ADD" or len(instruction.args) < 2:
                continue
            sources = [_expanded(unquote(s), known) for s in instruction.args[:-1]]
            if all(
                s is not None and not _URL.fullmatch(s) and not s.startswith("git@") and not _ARCHIVE.search(s)
                for s in sources
            ):
                yield Hit("ADD of local files; use COPY", instruction.line, 1)


def _expanded(source: str, known: dict[str, str]) -> str | None:
    """`$URL` with `ARG URL=https://...` is that URL; None when a variable has no known value (it may
    be a URL given with --build-arg, so ADD may be right)."""
    if "$" not in source:
        return source
    try:
        result = interpolate(source, known)
    except InterpolationError:
        return None
    return None if result.missing else result.value
