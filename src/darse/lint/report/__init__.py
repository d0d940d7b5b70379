"""Lint reports: the human view, stable JSON, and SARIF 2.1.0 for code-scanning services."""
