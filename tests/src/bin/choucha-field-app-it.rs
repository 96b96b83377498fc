//! The field app, built into this package so that the app-window tests find
//! it next to their executables (cargo builds only the tested package's
//! binaries). The same code as `choucha-field-app`.

fn main() {
    choucha_field_app_lib::run();
}
