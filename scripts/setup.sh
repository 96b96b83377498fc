#!/usr/bin/env bash
# Installs everything building and testing Choucha needs on a fresh Debian 12
# machine that has only the Rust toolchain. Idempotent: every step checks
# first and does nothing when its part is already there.
#
# Only package registries are used (Debian's apt, crates.io): no step
# downloads a tool's own prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages, with why each is needed.
APT_PACKAGES=(
  pkg-config        # locating C libraries for -sys crates
  libssl-dev        # libcrypto for SQLCipher (the tablet's encrypted database)
  haproxy           # the load balancer in front of two server instances (tests/tests/scale_out.rs, docs/deploy/haproxy.cfg)
  postgresql        # initdb/pg_ctl for the throwaway test clusters (tests/src/pg.rs); its own cluster is never used
  libvips-tools     # vipsthumbnail, the reference the photo benchmark runs side by side (app/core/benches/photo.rs)
  chromium          # headless browser for the console browser tests (tests/tests/console_browser.rs)
  chromium-driver   # WebDriver for that browser
  # The field app (Tauri 2 on Linux): WebKitGTK and friends to build it,
  # Xvfb and WebKitWebDriver to test it in its real window, CJK fonts so
  # Chinese text renders in the window and its screenshots.
  libwebkit2gtk-4.1-dev
  libsoup-3.0-dev
  libayatana-appindicator3-dev
  librsvg2-dev
  xvfb
  webkit2gtk-driver
  fonts-noto-cjk
  python3-venv      # a virtual environment for schemathesis (below)
  jq                # scripts/run.sh reads the demo draw to enrol the field app
  curl              # scripts/run.sh talks to the server it started
  openssl           # checks a signed manifest as a recipient would (tests/tests/national_register.rs)
  poppler-utils     # pdftotext and pdffonts read back printed and written PDFs (console_at_a_glance.rs, documents/tests/pdf_a.rs)
  qpdf              # checks the structure of every PDF the documents crate writes (documents/tests/pdf_a.rs)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for c in rustfmt clippy; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# A real S3-compatible server for the object-store tests (tests/src/s3.rs).
# 0.13.0 is the newest release that builds with Rust < 1.96.
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
  echo "setup: installing s3s-fs from crates.io (about 3 minutes)"
  cargo install s3s-fs --version 0.13.0 --features binary --locked
fi
# The field app's front end is wasm built by plain cargo plus wasm-bindgen-cli
# at exactly the wasm-bindgen version in Cargo.lock (scripts/build-ui.sh).
WASM_BINDGEN=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN" ]; then
  echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN from crates.io (about 5 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN"
fi
# WebDriver for the Tauri app window (tests/src/webapp.rs).
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver from crates.io (about 2 minutes)"
  cargo install tauri-driver --version 2.1.0 --locked
fi
# schemathesis (PyPI) fuzzes the API from outside (tests/tests/api_fuzz.rs),
# from a virtual environment of its own inside the build directory.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=target/tools/schemathesis
if [ "$("$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | awk '{print $3}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "setup: installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
echo "setup: done"
