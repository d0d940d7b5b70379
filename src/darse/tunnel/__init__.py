"""`darse tunnel`: a local port to a container nobody publishes (docs/tunnel.md)."""
