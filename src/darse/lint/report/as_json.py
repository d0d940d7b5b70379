"""`darse lint --format json`: a stable document (schema version 1, documented in docs/lint.md)."""

from __future__ import annotations

import json

from darse import __version__
from darse.lint.linter import LintResult
from darse.lint.rule import Severity


def render_json(result: LintResult) -> str:
    document = {
        "schema": 1,
        "tool": {"name": "darse", "version": __version__},
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "info": result.count(Severity.INFO),
            "services": result.services,
            "images": result.images,  # image folders: Dockerfiles and no Compose file
            "files": result.files,
        },
        "findings": [finding.to_dict() for finding in result.findings],
    }
    return json.dumps(document, indent=2)
