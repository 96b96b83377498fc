#!/usr/bin/env bash
# Builds the field app's Yew front end into app/ui/dist, which the Tauri
# shell embeds (app/shell/build.rs runs this script). Plain cargo for
# wasm32-unknown-unknown plus wasm-bindgen-cli at the exact version of the
# wasm-bindgen crate in Cargo.lock; no tool downloads anything itself.
# Idempotent: files in dist are only replaced when their content changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CARGO_BIN="${CARGO:-cargo}"
# Its own target directory: this script runs inside the shell's build
# script, and the outer build holds the lock of target/.
WASM_TARGET_DIR="$ROOT/target/ui-wasm"
DIST="$ROOT/app/ui/dist"
STAGE="$WASM_TARGET_DIR/stage"

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ -z "$want" ]; then
  echo "build-ui: wasm-bindgen is not in Cargo.lock" >&2; exit 1
fi
if [ "$have" != "$want" ]; then
  echo "build-ui: wasm-bindgen-cli $want is needed (found '${have:-none}'); scripts/setup.sh installs it" >&2
  exit 1
fi

"$CARGO_BIN" build -p choucha-app-ui --target wasm32-unknown-unknown --release \
  --target-dir "$WASM_TARGET_DIR" --quiet

rm -rf "$STAGE"
mkdir -p "$STAGE" "$DIST"
wasm-bindgen --target web --no-typescript --out-dir "$STAGE" --out-name choucha_ui \
  "$WASM_TARGET_DIR/wasm32-unknown-unknown/release/choucha-app-ui.wasm"
cp app/ui/index.html app/ui/style.css app/ui/boot.js "$STAGE/"

# Replace only what changed, so an unchanged front end does not make cargo
# re-embed it.
for f in "$STAGE"/*; do
  name=$(basename "$f")
  if ! cmp -s "$f" "$DIST/$name"; then cp "$f" "$DIST/$name"; fi
done
for f in "$DIST"/*; do
  [ -e "$STAGE/$(basename "$f")" ] || rm -f "$f"
done
echo "build-ui: $DIST ready"
