"""The services repository read into plain objects: services, Compose files, Dockerfiles, changelogs."""
