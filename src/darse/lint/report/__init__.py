"""Lint reports: the human view, stable JSON, SARIF 2.1.0 for code-scanning services, GNU lines for
editors and logs, and GitLab's Code Quality report."""
