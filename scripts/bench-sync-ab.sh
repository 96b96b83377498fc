#!/usr/bin/env bash
# Sync under load, two server builds side by side in one session: the same
# load generator (200 devices, docs/benchmarks.md) against each build in
# turn, alternating which goes first, so the order effect of this disk is
# seen rather than mistaken for the code's.
#
#   cargo build --release -p choucha-tests --bin choucha-loadgen
#   scripts/bench-sync-ab.sh BEFORE_SERVER_BINARY AFTER_SERVER_BINARY [PAIRS]
#
# LOADGEN=path uses a copy of the load generator built earlier (so that a
# later build of the tree does not change it between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2 pairs=${3:-3}
loadgen=${LOADGEN:-target/release/choucha-loadgen}

run() { # label binary
  local dir out pid url token
  dir=$(mktemp -d)
  "$2" --data-dir "$dir" demo > /dev/null
  out="$dir/server.out"
  RUST_LOG=warn "$2" --data-dir "$dir" serve --listen 127.0.0.1:0 > "$out" &
  pid=$!
  for _ in $(seq 300); do grep -q '^listening on ' "$out" && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$out")
  # Older builds printed a first token; newer ones issue one on request.
  token=$(sed -n 's/^admin token: //p' "$out")
  [ -n "$token" ] || token=$("$2" --data-dir "$dir" token new --name 基准测试 --days 1 2>/dev/null)
  echo "== $1 ($2)"
  "$loadgen" --server "$url" --admin-token "$token" --devices 200 \
    --server-pid "$pid" --baseline-dir "$dir" || echo "(load generator failed)"
  kill "$pid"
  wait "$pid" || true
  rm -rf "$dir"
  sleep 35
}

for i in $(seq "$pairs"); do
  if (( i % 2 )); then
    run "pair $i: before" "$before"; run "pair $i: after" "$after"
  else
    run "pair $i: after" "$after"; run "pair $i: before" "$before"
  fi
done
