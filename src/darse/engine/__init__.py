"""The only code that talks to Docker: the Compose and Docker CLIs, and the Engine API through docker-py."""
