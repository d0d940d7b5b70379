"""The private registry: the HTTP API v2 client, htpasswd files, the registry service scaffold."""
