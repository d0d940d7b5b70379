#!/bin/sh
# Runs as PID 1's child thanks to `init: true` in compose.yaml, so `docker stop` reaches node.
set -eu
exec node src/node/server.js --settings settings.json
