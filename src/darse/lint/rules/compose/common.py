"""What several families of Compose rules read from a service: its image, ports, labels, home-made Dockerfile."""

from __future__ import annotations

from darse.lint.context import LintContext
from darse.model.compose import is_true, labels
from darse.model.dockerfiles import Dockerfile
from darse.model.image import ImageRef, parse_image
from darse.model.yamlnode import YNode

_LOOPBACK = ("127.", "[::1]", "localhost:")


def service_image(node: YNode) -> ImageRef | None:
    """The image a service names, parsed; None without `image:`."""
    image = node.get("image")
    text = image.text() if image is not None else None
    return parse_image(text) if text else None


def publishes_publicly(port: YNode) -> bool:
    """A `ports:` entry reachable from outside the host (loopback-only bindings are tunnels' business)."""
    if port.is_map:
        host_ip = port.get("host_ip")
        return not (host_ip is not None and (host_ip.text() or "").startswith(("127.", "::1", "localhost")))
    text = port.text() or ""
    return not text.startswith(_LOOPBACK)


def traefik_labels_of(node: YNode) -> dict[str, tuple[str, YNode]]:
    return {k: v for k, v in labels(node).items() if k.startswith("traefik.")}


def is_external(network_or_volume: YNode | None) -> bool:
    if network_or_volume is None:
        return False
    external = network_or_volume.get("external")
    return external is not None and (is_true(external) or external.is_map)


def home_made_dockerfile(node: YNode, ctx: LintContext) -> Dockerfile | None:
    """The parsed Dockerfile of the service's folder that builds the image this Compose service runs."""
    if ctx.service is None:
        return None
    for home_made in ctx.service.home_made_images:
        if any(user is node for _name, user in home_made.users):
            dockerfile = next((d for d in ctx.service.dockerfiles if d.path == home_made.dockerfile), None)
            return dockerfile if dockerfile is not None and not dockerfile.problems else None
    return None
