"""Traefik's Let's Encrypt certificates for services that are not web services (LDAPS, mail, MQTT...).

`acme` reads Traefik's acme.json, `x509` checks and chooses certificates, `names` matches domains by
RFC 6125, `labels` reads what a consumer's Compose file asks for (docs/certs.md)."""
