"""`darse lint --format sarif`: SARIF 2.1.0, one run, every rule described, paths relative to the root."""

from __future__ import annotations

import json

from darse import __version__
from darse.lint.linter import LintResult
from darse.lint.rule import RULES, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_DOCS = "https://github.com/darse/darse/blob/main/docs/rules.md"


def render_sarif(result: LintResult) -> str:
    rules = sorted(RULES.values(), key=lambda r: r.id)
    index = {rule.id: position for position, rule in enumerate(rules)}
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "darse",
                        "version": __version__,
                        "informationUri": _DOCS,
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.name,
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.reason},
                                "helpUri": f"{_DOCS}#{rule.id.lower()}",
                                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"uri": "./"}},
                "results": [
                    {
                        "ruleId": finding.rule,
                        "ruleIndex": index[finding.rule],
                        "level": _LEVEL[finding.severity],
                        "message": {"text": finding.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": finding.path, "uriBaseId": "SRCROOT"},
                                    "region": {"startLine": finding.line, "startColumn": finding.column},
                                }
                            }
                        ],
                    }
                    for finding in result.findings
                ],
            }
        ],
    }
    return json.dumps(document, indent=2)
