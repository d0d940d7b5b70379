"""The `--format sarif` result: crossed CI thresholds as errors, findings as warnings, SARIF 2.1.0."""

from __future__ import annotations

from typing import Any

from darse import __version__

_RULES = {
    "lowest-efficiency": "The image wastes too large a share of its bytes (efficiency below the threshold).",
    "highest-wasted-bytes": "The image stores more wasted bytes than allowed.",
    "highest-wasted-percent": "The image wastes a larger percentage of its bytes than allowed.",
    "max-age-days": "The image was built longer ago than allowed.",
    "forbid-root": "The image runs as root.",
    "forbid-eol": "The image's base OS release reached its end of life.",
    "private-key": "A private key is stored in a layer.",
    "env-file": "A .env file is stored in a layer.",
    "shell-history": "A shell history is stored in a layer.",
    "setuid": "A file is setuid.",
    "setgid": "A file is setgid.",
    "world-writable": "A file or directory is world-writable.",
    "package-cache": "A package manager cache was left in the image.",
}


def render_sarif(document: dict[str, Any]) -> dict[str, Any]:
    reference = document["source"]["reference"]
    results = []
    for violation in (document.get("ci") or {}).get("violations", []):
        results.append(
            {
                "ruleId": violation["rule"],
                "level": "error",
                "message": {"text": f"{reference}: {violation['message']}"},
                "locations": [{"logicalLocations": [{"name": reference, "kind": "module"}]}],
            }
        )
    for finding in document["findings"]:
        where = "" if finding["visible"] else ", removed later"
        results.append(
            {
                "ruleId": finding["kind"],
                "level": "warning",
                "message": {
                    "text": f"{reference}: {finding['path']} (layer {finding['layer']}{where}) "
                    f"{finding['detail']}".strip()
                },
                "locations": [
                    {
                        "logicalLocations": [
                            {
                                "name": finding["path"],
                                "fullyQualifiedName": f"{reference}:{finding['path']}",
                                "kind": "resource",
                            }
                        ]
                    }
                ],
                "properties": {"layer": finding["layer"], "visible": finding["visible"], "size": finding["size"]},
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "darse inspect",
                        "version": __version__,
                        "informationUri": "https://github.com/darse/darse/blob/main/docs/inspect.md",
                        "rules": [{"id": rule, "shortDescription": {"text": text}} for rule, text in _RULES.items()],
                    }
                },
                "results": results,
                "properties": {
                    "image": document["image"]["id"],
                    "waste": {k: v for k, v in document["waste"].items() if k != "files"},
                },
            }
        ],
    }
