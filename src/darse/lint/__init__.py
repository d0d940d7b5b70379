"""`darse lint`: the services guide's rules over Dockerfiles, Compose files and the repository layout."""
