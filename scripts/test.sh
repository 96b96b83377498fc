#!/usr/bin/env bash
# Runs every test of the project. Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== shared crate for the browser/tablet front end (wasm32)"
cargo build -p choucha-shared --target wasm32-unknown-unknown

echo "== tests"
cargo test --workspace
