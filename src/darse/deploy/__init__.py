"""Deploying services: preflight, up, rollback, down, status, and the history that records them."""
