"""`darse lint --format gnu`: one `path:line:col: severity: message [RULE]` line per finding.

The GNU error format that compilers and hadolint's `gnu` format print: editors (Emacs, Vim's
quickfix), CI log parsers and `grep` read it without knowing darse.
"""

from __future__ import annotations

from darse.lint.linter import LintResult


def render_gnu(result: LintResult) -> str:
    return "\n".join(
        f"{f.path}:{f.line}:{f.column}: {f.severity.label}: {' '.join(f.message.split())} [{f.rule}]"
        for f in result.findings
    )
