#!/usr/bin/env bash
# Runs the system: the sync server with its embedded SQLite database in
# ./data, loaded with the demo directory and draw (the seed document's plan),
# and the field app already enrolled as the first officer of a drawn team.
# Installs what it needs first. Idempotent: a second run reuses ./data (the
# app stays enrolled). Stop with Ctrl-C (both stop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
LISTEN="${CHOUCHA_LISTEN:-127.0.0.1:8080}"
DATA="${CHOUCHA_DATA_DIR:-data}"
echo "== building (release)"
cargo build --release -p choucha-sync-server --bin choucha-server -p choucha-field-app --bin choucha-field-app
SERVER=target/release/choucha-server
APP=target/release/choucha-field-app
echo "== demo data"
"$SERVER" --data-dir "$DATA" demo

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

mkdir -p "$DATA"
"$SERVER" --data-dir "$DATA" serve --listen "$LISTEN" > >(tee "$DATA/server.log") 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "^listening on " "$DATA/server.log" 2>/dev/null && break
  sleep 0.2
done
BASE=$(sed -n 's/^listening on //p' "$DATA/server.log" | head -1)
if [ -z "$BASE" ]; then echo "run: the server did not start (see $DATA/server.log)" >&2; exit 1; fi

# The field app: enrolled (on its first start) as the first officer of the
# first drawn team, with a one-time code made through the admin API with
# a one-day token issued for this run (never echoed: it is a secret).
TOKEN=$("$SERVER" --data-dir "$DATA" token new --name 演示启动脚本 --days 1 2>/dev/null)
OFFICER=$(curl -fsS -H "authorization: Bearer $TOKEN" "$BASE/api/v1/draws/GXQ-2023-ZBJR-D1" \
  | jq -r '[.tasks[] | select(.category == "metrology")][0].team[0].person_id')
QR=$(curl -fsS -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"officer_id\": \"$OFFICER\"}" "$BASE/api/v1/enrolments" | jq -r .qr_payload)
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # A machine without a screen: the app runs on a virtual one.
  export DISPLAY=:93
  Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
  pids+=($!)
  echo "   (no display: the field app runs on the virtual display $DISPLAY)"
fi
CHOUCHA_APP_HOME="$DATA/field-app" CHOUCHA_ENROL="$QR" CHOUCHA_LOCATION="${CHOUCHA_LOCATION:-simulated}" \
  "$APP" > "$DATA/field-app.log" 2>&1 &
pids+=($!)

echo "== running"
echo "   Console:    $BASE/console/   (demo users and passwords: see above)"
echo "   Field app:  enrolled as officer $OFFICER (data in $DATA/field-app)"
echo "   Public draw check: $BASE/api/v1/public/draws/GXQ-2023-ZBJR-D1/verify"
echo "   Ctrl-C stops both."
wait "${pids[0]}"
