"""The private registry: the HTTP API v2 client, htpasswd files, the registry service folder, and the
library calls behind `darse registry` (`commands`)."""
