"""Base images: pinned tags, small distributions, releases still supported."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.knowledge import eol_release_in
from darse.lint.rule import Hit, Severity, dockerfile_rule
from darse.lint.rules.dockerfile.common import final_chain
from darse.model.dockerfiles import Dockerfile, Stage
from darse.model.image import TagKind, moving_tag_phrase


def _image_label(stage: Stage) -> str:
    return stage.base_resolved or stage.base


def _from_position(dockerfile: Dockerfile, stage: Stage) -> tuple[int, int]:
    """Where the base image is written: after FROM's flags (`--platform=...`) and any indentation."""
    instruction = next(i for i in dockerfile.instructions if i.line == stage.from_line)
    return dockerfile.position(instruction, stage.base)


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
