"""The only layer that talks to Docker: the Compose CLI (`compose`) and the Engine API (`docker`)."""
