"""`darse lint --format codeclimate`: GitLab's Code Quality report (a subset of Code Climate's spec).

A JSON array of issues that GitLab CI reads from `artifacts: reports: codequality:` and shows in merge
requests. GitLab tells new findings from old ones by `fingerprint`, so it must survive unrelated edits
(the line is left out) yet differ between two findings (a repeated rule, file and message gets its
occurrence number).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from darse.lint.linter import LintResult
from darse.lint.rule import Severity

# GitLab's scale is info, minor, major, critical, blocker; darse's error breaks the guide.
_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def render_codeclimate(result: LintResult) -> str:
    seen: Counter[tuple[str, str, str]] = Counter()
    issues = []
    for finding in result.findings:
        key = (finding.rule, finding.path, finding.message)
        occurrence = seen[key]
        seen[key] += 1
        digest = hashlib.sha256("\0".join([*key, str(occurrence)]).encode("utf-8")).hexdigest()[:32]
        issues.append(
            {
                "type": "issue",
                "check_name": finding.rule,
                "description": finding.message,
                "fingerprint": digest,
                "severity": _SEVERITY[finding.severity],
                "location": {"path": finding.path, "lines": {"begin": finding.line}},
            }
        )
    return json.dumps(issues, indent=2)
