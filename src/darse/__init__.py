"""darse: run a fleet of Docker Compose services from one Git repository."""

__version__ = "0.1.0"
