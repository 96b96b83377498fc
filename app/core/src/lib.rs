//! The field app's engine, with no Tauri dependency so it runs and is tested
//! headless. The Tauri shell only exposes these functions as commands.
