"""The only layer that talks to Docker: the Compose CLI (`compose`), the Engine API (`docker`), Swarm (`swarm`)."""
