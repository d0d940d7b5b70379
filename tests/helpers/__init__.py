"""Test doubles shared by the unit tests (an in-memory engine)."""
