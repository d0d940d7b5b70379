"""Swarm targets: service folders deployed with `docker stack deploy`, waited for and rolled back honestly."""
