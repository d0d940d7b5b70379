"""Dockerfile rules: base images, reproducible downloads, apt hygiene, users, secrets, PID 1."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial

from darse.lint.context import LintContext
from darse.lint.knowledge import eol_release_in
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.lint.shell import program, split_commands
from darse.model.compose import is_true
from darse.model.dockerfiles import Dockerfile, Instruction, Stage, arg_pairs, env_pairs, unquote
from darse.model.image import TagKind, moving_tag_phrase
from darse.model.interpolate import InterpolationError, interpolate
from darse.secretlike import is_secret_literal

MOVING_REFS = {"latest", "master", "main", "head", "develop", "dev", "trunk", "nightly", "edge"}
_URL = re.compile(r"""(?:https?|ftp)://[^\s'"`;|&<>)]+""")
_VERSION_IN_URL = re.compile(r"(?<![0-9A-Za-z])v?\d+\.\d+(?:\.\d+)*")
_ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst|lz|lzma))$", re.IGNORECASE)
_INIT_PROGRAMS = {"tini", "tini-static", "dumb-init", "init", "s6-svscan", "catatonit", "supervisord", "runsvdir"}
_SHELLS = {"sh", "bash", "ash", "dash", "zsh"}


def final_chain(dockerfile: Dockerfile) -> list[Stage]:
    """The final stage and the stages it is built FROM, nearest first: what ends up in the image."""
    chain = []
    stage = dockerfile.final_stage
    while stage is not None and stage not in chain:
        chain.append(stage)
        stage = stage.parent
    return chain


def _runs(dockerfile: Dockerfile, stages: list[Stage] | None = None) -> Iterator[tuple[Instruction, str]]:
    """Every RUN (ONBUILD RUN too) with its script text (heredoc bodies included)."""
    for stage in stages if stages is not None else dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "RUN" or (instruction.cmd == "ONBUILD" and instruction.sub_cmd == "RUN"):
                if instruction.json:
                    script = " ".join(instruction.args)
                else:
                    script = instruction.args[0] if instruction.args else ""
                if instruction.heredocs:
                    script += "\n" + "\n".join(instruction.heredocs)
                yield instruction, script


def _image_label(stage: Stage) -> str:
    return stage.base_resolved or stage.base


def _from_position(dockerfile: Dockerfile, stage: Stage) -> tuple[int, int]:
    """Where the base image is written: after FROM's flags (`--platform=...`) and any indentation."""
    instruction = next(i for i in dockerfile.instructions if i.line == stage.from_line)
    return dockerfile.position(instruction, stage.base)


def _command_position(
    dockerfile: Dockerfile, instruction: Instruction, commands: list[list[str]], index: int
) -> tuple[int, int]:
    """Where the script's `index`-th command is written, found by its first two words, skipping the
    earlier commands that start the same way (two `apt-get install` in one RUN)."""
    start = commands[index][:2]
    occurrence = sum(1 for command in commands[:index] if command[:2] == start)
    return dockerfile.position(instruction, " ".join(start), occurrence)


@dockerfile_rule(
    "DF001",
    "base-image-tag",
    "Base image without a pinned tag",
    Severity.ERROR,
    """A base image without a tag, tagged `latest`, or tagged with a channel (`alpine`, `stable`,
    `lts`, `edge`, `main`, `dev`, `latest-alpine`, ...) changes under your feet: rebuilding an old
    commit no longer gives the same image, which breaks the guide's reproducible builds. `ARG`
    defaults used in `FROM` are resolved first. Major-only tags are DF015's business.""",
)
def base_image_tag(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        image = stage.image
        if image is None or image.tag_kind not in (TagKind.LATEST, TagKind.CHANNEL):
            continue
        yield Hit(
            f"base image {_image_label(stage)} {moving_tag_phrase(image)}; pin a version tag",
            *_from_position(dockerfile, stage),
        )


@dockerfile_rule(
    "DF015",
    "base-image-tag-major",
    "Base image tagged with a major version only",
    Severity.WARNING,
    """A major-only tag (`alpine:3`, `node:20-bookworm-slim`, `postgres:16-alpine`) follows every
    minor release of that major version: a rebuild months later gets another image. Pin at least
    major.minor (`alpine:3.20`, `node:20.18-bookworm-slim`) or a digest.""",
)
def base_image_tag_major(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        image = stage.image
        if image is not None and image.tag_kind is TagKind.MAJOR:
            yield Hit(
                f"base image {_image_label(stage)} names a major version only; pin major.minor or a digest",
                *_from_position(dockerfile, stage),
            )


@dockerfile_rule(
    "DF002",
    "base-image-small",
    "Base image is not a small one",
    Severity.INFO,
    """The guide prefers Alpine, a Debian `slim` variant, distroless or scratch: fewer packages,
    fewer vulnerabilities, smaller images. Only the final image's base is checked, and images from
    the repository's own registry are trusted to follow the rule themselves.""",
)
def base_image_small(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    chain = final_chain(dockerfile)
    if not chain:
        return
    stage = chain[-1]
    if stage.base_resolved == "scratch":
        return
    image = stage.image
    if image is None or (ctx.config.registry and image.registry == ctx.config.registry):
        return
    text = f"{image.repository}:{image.tag}".lower()
    if any(word in text for word in ("alpine", "slim", "distroless", "busybox", "minimal", "micro", "chiseled")):
        return
    yield Hit(
        f"final base image {_image_label(stage)} is neither Alpine, slim, distroless nor scratch",
        *_from_position(dockerfile, stage),
    )


@dockerfile_rule(
    "DF003",
    "base-image-eol",
    "Base image on an end-of-life release",
    Severity.WARNING,
    """A distribution release past its end of life gets no more security fixes (the guide: prefer
    the newest Debian stable, Buster rather than Stretch in its day). The list of releases and their
    dates is data (`darse/data/eol.toml`), not code.""",
)
def base_image_eol(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        image = stage.image
        if image is None or not image.tag:
            continue
        release = eol_release_in(image.name, image.tag, ctx.today)
        if release:
            yield Hit(
                f"base image {_image_label(stage)} is on {release.distribution} {release.release}, "
                f"end of life since {release.end.isoformat()}",
                *_from_position(dockerfile, stage),
            )


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
    targets = words[1:]
    return bool(targets) and all(t.lower() not in MOVING_REFS and not t.startswith("origin/") for t in targets[:1])


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
    runs = list(_runs(dockerfile))
    checkouts_after: list[bool] = []
    seen_checkout = False
    for _instruction, script in reversed(runs):
        commands = split_commands(script)
        seen_checkout = seen_checkout or any(_is_checkout(c) for c in commands)
        checkouts_after.append(seen_checkout)
    checkouts_after.reverse()
    for (instruction, script), later_checkout in zip(runs, checkouts_after, strict=True):
        commands = split_commands(script)
        for index, command in enumerate(commands):
            if program(command) == "git" and "clone" in command[1:3] and not _clone_is_pinned(command):
                if later_checkout:
                    continue
                line, col = _command_position(dockerfile, instruction, commands, index)
                yield Hit("git clone without a pinned tag or commit; add --branch <tag> or git checkout", line, col)


def _urls(dockerfile: Dockerfile) -> Iterator[tuple[str, bool, Callable[[], tuple[int, int]]]]:
    """URLs of RUN scripts and ADD sources, with whether they are fetched by curl/wget/ADD and where
    each is written (a URL repeated in one RUN, as in a `case` per architecture, at each place). The
    position is a function: finding it costs a regex per URL, paid only for a finding."""
    for instruction, script in _runs(dockerfile):
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
    "DF007",
    "env-debian-frontend",
    "DEBIAN_FRONTEND set with ENV",
    Severity.WARNING,
    """`ENV DEBIAN_FRONTEND=noninteractive` stays in the image and changes the behaviour of every
    `apt` run by its users; set it inline (`RUN DEBIAN_FRONTEND=noninteractive apt-get ...`) or
    with `ARG`.""",
)
def env_debian_frontend(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "ENV" and any(k == "DEBIAN_FRONTEND" for k, _ in env_pairs(instruction)):
                line, col = dockerfile.position(instruction, "DEBIAN_FRONTEND")
                yield Hit("DEBIAN_FRONTEND is set with ENV; set it inline in the RUN or with ARG", line, col)


def _last_user(chain: list[Stage]) -> Instruction | None:
    for stage in chain:
        users = [i for i in stage.instructions if i.cmd == "USER"]
        if users:
            return users[-1]
    return None


def _is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ("root", "0")


@dockerfile_rule(
    "DF008",
    "user-root",
    "Final USER is root",
    Severity.WARNING,
    """A container running as root turns any escape from the application into root on the
    container; switch to an unprivileged user at the end of the final stage. Build stages may use
    root: only the USER that the final image keeps is checked.""",
)
def user_root(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    user = _last_user(final_chain(dockerfile))
    if user is not None and user.args and _is_root(user.args[0]):
        yield Hit(f"the image runs as {user.args[0]}; end with an unprivileged USER", user.line, 1)


@dockerfile_rule(
    "DF009",
    "user-missing",
    "No USER in the final image",
    Severity.INFO,
    """Without a USER instruction the container runs as root unless its entrypoint drops
    privileges itself. Images built FROM another stage inherit that stage's USER.""",
)
def user_missing(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    chain = final_chain(dockerfile)
    if not chain or _last_user(chain) is not None:
        return
    image = chain[-1].image
    if image is not None and "nonroot" in image.tag:
        return
    yield Hit("no USER instruction: the image runs as root", chain[0].from_line, 1)


def _apt_installs(commands: list[list[str]]) -> Iterator[int]:
    """Indexes of the `apt-get install` commands."""
    for index, command in enumerate(commands):
        if program(command) in ("apt-get", "apt") and "install" in command[1:]:
            yield index


def _recommends_disabled(command: list[str]) -> bool:
    return any(
        arg.startswith("--no-install-recommends")
        or re.search(r"APT::Install-Recommends=(false|0|no)", arg, re.IGNORECASE)
        for arg in command
    )


@dockerfile_rule(
    "DF010",
    "apt-no-recommends",
    "apt-get install without --no-install-recommends",
    Severity.WARNING,
    """Recommended packages are rarely needed in a container and can double its size and its attack
    surface. Same check as hadolint DL3015.""",
)
def apt_no_recommends(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    configured = any("Install-Recommends" in script for _i, script in _runs(dockerfile) if "apt.conf" in script)
    if configured:
        return
    for instruction, script in _runs(dockerfile):
        commands = split_commands(script)
        for index in _apt_installs(commands):
            if not _recommends_disabled(commands[index]):
                line, col = _command_position(dockerfile, instruction, commands, index)
                yield Hit(f"{program(commands[index])} install without --no-install-recommends", line, col)


@dockerfile_rule(
    "DF011",
    "apt-lists-kept",
    "apt lists left in the image",
    Severity.WARNING,
    """`apt-get update` downloads package lists (tens of MB) into /var/lib/apt/lists; remove them in
    the same RUN (`rm -rf /var/lib/apt/lists/*`) or they stay in that layer forever. Checked on the
    stages the final image is made of, like hadolint DL3009; a cache mount on the lists is fine.""",
)
def apt_lists_kept(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for instruction, script in _runs(dockerfile, final_chain(dockerfile)):
        commands = split_commands(script)
        updates = [i for i, c in enumerate(commands) if program(c) in ("apt-get", "apt") and "update" in c[1:]]
        if not updates:
            continue
        cleaned = any(program(c) == "rm" and any("/var/lib/apt/lists" in a for a in c) for c in commands)
        cached = any(f.startswith("--mount") and "/var/lib/apt" in f for f in instruction.flags)
        if cleaned or cached:
            continue
        line, col = _command_position(dockerfile, instruction, commands, updates[0])
        written = program(commands[updates[0]])  # apt or apt-get, as the Dockerfile says it
        yield Hit(f"{written} update without rm -rf /var/lib/apt/lists/* in the same RUN", line, col)


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


@dockerfile_rule(
    "DF013",
    "secret-in-image",
    "Secret-looking value in ENV or ARG",
    Severity.ERROR,
    """ENV and ARG values are stored in the image's configuration and history, readable by anyone
    who pulls it, and the repository is public. Secrets come from the service's env_file at run
    time (`darse secrets`).""",
)
def secret_in_image(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    for stage_or_global in [None, *dockerfile.stages]:
        if stage_or_global is None:
            instructions = [i for i in dockerfile.instructions if i.cmd == "ARG" and i.line < _first_from(dockerfile)]
        else:
            instructions = stage_or_global.instructions
        for instruction in instructions:
            if instruction.cmd == "ENV":
                pairs = env_pairs(instruction)
            elif instruction.cmd == "ARG":
                pairs = [(k, v) for k, v in arg_pairs(instruction).items() if v is not None]
            else:
                continue
            for name, value in pairs:
                if is_secret_literal(name, value):
                    line, col = dockerfile.position(instruction, name)
                    yield Hit(f"{instruction.cmd} {name} holds a literal secret; pass it at run time", line, col)


def _first_from(dockerfile: Dockerfile) -> int:
    return dockerfile.stages[0].from_line if dockerfile.stages else 1 << 30


def _last(chain: list[Stage], cmd: str) -> Instruction | None:
    for stage in chain:
        found = [i for i in stage.instructions if i.cmd == cmd]
        if found:
            return found[-1]
    return None


def _script_pid1(instruction: Instruction) -> bool:
    """Whether this ENTRYPOINT/CMD makes a shell or a shell script PID 1."""
    if not instruction.args:
        return False
    if not instruction.json:
        text = instruction.args[0].strip()
        first = text.split()[0] if text.split() else ""
        return not text.startswith("exec ") and program([first]) not in _INIT_PROGRAMS
    first = program(list(instruction.args))
    if first in _INIT_PROGRAMS:
        return False
    if first in _SHELLS:
        # `["sh", "-c", "exec app"]`: the shell replaces itself with the application
        return not (instruction.args[1:2] == ("-c",) and instruction.args[-1].strip().startswith("exec "))
    return first.endswith(".sh")


@dockerfile_rule(
    "DF014",
    "script-pid1-without-init",
    "Shell script as PID 1 without init: true",
    Severity.WARNING,
    """A shell or shell-script entrypoint runs as PID 1 and does not pass SIGTERM on to the
    application, which is then killed after the stop timeout (the guide's 'Système init'). The
    Compose services that run this image need `init: true` (or the image an init such as tini).""",
)
def script_pid1_without_init(dockerfile: Dockerfile, ctx: LintContext) -> Iterator[Hit]:
    if ctx.service is None:
        return
    chain = final_chain(dockerfile)
    entrypoint = _last(chain, "ENTRYPOINT")
    target = entrypoint if entrypoint is not None and entrypoint.args else _last(chain, "CMD")
    if target is None or not _script_pid1(target):
        return
    users = next((image.users for image in ctx.service.home_made_images if image.dockerfile == dockerfile.path), ())
    lacking = [name for name, node in users if not is_true(node.get("init"))]
    if lacking:
        yield Hit(
            f"{target.cmd} runs a shell script as PID 1 and Compose service {', '.join(lacking)} lacks init: true",
            target.line,
            1,
        )
