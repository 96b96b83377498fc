//! Builds the Yew front end before Tauri embeds it: `generate_context!`
//! needs `app/ui/dist` at compile time, so a plain `cargo build`, `cargo
//! clippy` or `cargo test` of the workspace works on a fresh checkout
//! without a separate step. The front end is built by
//! `scripts/build-ui.sh` (cargo for wasm32 in its own target directory, so
//! it never waits on the lock of the build that runs this script, then
//! wasm-bindgen); it is idempotent and quick when nothing changed.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("../..");
    for watched in [
        "app/ui/src",
        "app/ui/Cargo.toml",
        "app/ui/index.html",
        "app/ui/style.css",
        "app/ui/boot.js",
        "app/api/src",
        "shared/src",
        "scripts/build-ui.sh",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CHOUCHA_SKIP_UI_BUILD");
    if std::env::var_os("CHOUCHA_SKIP_UI_BUILD").is_none() {
        build_ui(&root);
    }

    // Phones also get the geolocation permission; the plugin exists only there.
    let target = std::env::var("TARGET").unwrap_or_default();
    let mobile = target.contains("android") || target.contains("apple-ios");
    let attributes = tauri_build::Attributes::new().capabilities_path_pattern(if mobile {
        "./capabilities/**/*.json"
    } else {
        "./capabilities/*.json"
    });
    if let Err(e) = tauri_build::try_build(attributes) {
        println!("cargo:warning=tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}

fn build_ui(root: &Path) {
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/build-ui.sh"));
    // The outer cargo's settings are for the host build, not the wasm one;
    // clippy's wrapper would lint (and fail) the front end a second time.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_LINKER",
    ] {
        cmd.env_remove(var);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("scripts/build-ui.sh failed ({s})")),
        Err(e) => fail(&format!("could not run scripts/build-ui.sh: {e}")),
    }
}

fn fail(msg: &str) -> ! {
    println!("cargo:warning={msg}; run scripts/setup.sh (installs wasm-bindgen-cli) and retry");
    std::process::exit(1);
}
