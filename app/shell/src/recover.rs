//! A page whose web process died is loaded again.
//!
//! WebKitGTK renders the page in a separate web process. If that process
//! crashes or is killed (out of memory, a graphics driver fault), wry leaves
//! the window blank and the inspector with a dead screen. Nothing is lost
//! when that happens — every tap has already gone through a command into
//! the core's store — so the right answer is to load the page again, which
//! shows the same state. The reason is written to stderr for the support
//! log.

use tauri::{Runtime, WebviewWindow};

/// Reloads the window's page whenever its web process terminates (Linux;
/// other platforms' webviews restart or report this themselves).
pub fn reload_when_the_page_dies<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let hooked = window.with_webview(|webview| {
            use webkit2gtk::WebViewExt;
            webview
                .inner()
                .connect_web_process_terminated(|view, reason| {
                    eprintln!(
                        "界面进程意外退出（{reason:?}），正在重新加载 \
                         (the page's web process terminated: {reason:?}; reloading)"
                    );
                    view.reload();
                });
        });
        if let Err(e) = hooked {
            eprintln!("无法监视界面进程 (cannot watch the web process): {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
