#!/usr/bin/env bash
# Runs the system: the sync server with its embedded database in ./data.
# Installs what it needs first (idempotent). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
LISTEN="${CHOUCHA_LISTEN:-127.0.0.1:8080}"
echo "== starting choucha-server on http://$LISTEN (data in ./data)"
exec cargo run --release -p choucha-sync-server --bin choucha-server -- serve --listen "$LISTEN" --data-dir data
