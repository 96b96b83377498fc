#!/usr/bin/env bash
# Runs the system: the sync server with its embedded SQLite database in
# ./data, loaded with the demo directory and draw (the seed document's plan).
# Installs what it needs first. Idempotent: a second run reuses ./data.
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
LISTEN="${CHOUCHA_LISTEN:-127.0.0.1:8080}"
DATA="${CHOUCHA_DATA_DIR:-data}"
echo "== building (release)"
cargo build --release -p choucha-sync-server --bin choucha-server
SERVER=target/release/choucha-server
echo "== demo data"
"$SERVER" --data-dir "$DATA" demo
echo "== server on http://$LISTEN (data in ./$DATA)"
echo "   The admin token is printed once, on the first start; 'choucha-server --data-dir $DATA token' makes another."
echo "   Public draw check: http://$LISTEN/api/v1/public/draws/GXQ-2023-ZBJR-D1/verify"
exec "$SERVER" --data-dir "$DATA" serve --listen "$LISTEN"
