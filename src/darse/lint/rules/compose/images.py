"""What a service runs: an image by a pinned tag, built beforehand, never missing."""

from __future__ import annotations

from collections.abc import Iterator

from darse.lint.context import LintContext
from darse.lint.rule import Hit, Severity, compose_service_rule
from darse.lint.rules.compose.common import service_image
from darse.model.compose import ComposeFile
from darse.model.image import TagKind, moving_tag_phrase
from darse.model.yamlnode import YNode


@compose_service_rule(
    "DC015",
    "image-tag",
    "Image without a pinned tag",
    Severity.ERROR,
    """`image:` without a tag, with `latest`, or with a channel tag (`alpine`, `stable`, `lts`,
    `edge`, `main`, `dev`, `latest-alpine`, ...) deploys whatever the registry holds that day:
    rolling back to an old commit no longer brings back the old image. Major-only tags are DC017's
    business.""",
)
def image_tag(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image_node = node.get("image")
    image = service_image(node)
    if image_node is None or image is None or image.tag_kind not in (TagKind.LATEST, TagKind.CHANNEL):
        return
    yield Hit(
        f"image {image_node.text()} {moving_tag_phrase(image)}; pin a version", image_node.line, image_node.column
    )


@compose_service_rule(
    "DC017",
    "image-tag-major",
    "Image tagged with a major version only",
    Severity.WARNING,
    """A major-only tag (`postgres:16`, `redis:7-alpine`) follows every minor release: a
    redeploy or a rollback to an old commit may run another image than the one tested. Pin at
    least major.minor (`postgres:16.4`) or a digest.""",
)
def image_tag_major(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    image_node = node.get("image")
    image = service_image(node)
    if image_node is not None and image is not None and image.tag_kind is TagKind.MAJOR:
        yield Hit(
            f"image {image_node.text()} names a major version only; pin major.minor or a digest",
            image_node.line,
            image_node.column,
        )


@compose_service_rule(
    "DC016",
    "build-in-deploy",
    "build: in a deployed Compose file",
    Severity.WARNING,
    """Deployed Compose files name an image (`image:`), built beforehand by `darse build` and kept
    in the registry; building on the production host makes what runs depend on that host.""",
)
def build_in_deploy(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if node.get("build") is not None:
        section = node
        key = section.key_node("build")
        yield Hit(
            f"service {name} builds its image on deploy; build with darse build and use image:", key.line, key.column
        )


@compose_service_rule(
    "DC020",
    "no-image",
    "Service with neither image: nor build:",
    Severity.ERROR,
    """Compose refuses a service that names no image and no build context ("has neither an image nor
    a build context specified"): the file cannot be deployed as it is. A file written to be merged
    onto another (`-f compose.yaml -f extra.yml`) is linted merged when none of its services names
    an image; a service it adds must still name one.""",
)
def no_image(name: str, node: YNode, compose: ComposeFile, ctx: LintContext) -> Iterator[Hit]:
    if node.get("image") is None and node.get("build") is None and node.get("extends") is None:
        key = compose.service_key(name)
        yield Hit(f"service {name} has neither image: nor build:; Compose refuses it", key.line, key.column)
