"""Helpers shared by test modules (imported as `helpers.X`; conftest only holds fixtures)."""
