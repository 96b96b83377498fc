//! Evidence work (hashing chunks and files, writing and reading them) runs
//! on tokio's blocking pool at a lower CPU priority than the request
//! handlers.
//!
//! When a thousand tablets upload at the end of the day, the instance's
//! cores are busy hashing megabytes while a device's pull — a few
//! microseconds of work — waits for a core behind them. Evidence is
//! throughput work: it loses nothing by waiting a few milliseconds, and a
//! core left idle by the handlers still goes to it (a niced thread only
//! yields when something of normal priority wants to run). Linux applies
//! `nice` per thread, so only the threads that take evidence work are
//! lowered; the async workers that answer requests keep their priority.

use std::cell::Cell;

/// How far below normal the evidence threads run (0 normal, 19 lowest). At
/// 10 a normal thread gets about ten times the CPU of a busy evidence
/// thread when both want it.
const EVIDENCE_NICE: i32 = 10;

thread_local! {
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the blocking pool, on a thread at evidence priority.
pub(crate) async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || {
        lower_this_thread();
        f()
    })
    .await
}

/// Lowers the calling thread's priority once; a failure (a platform
/// without per-thread priorities, a sandbox refusing it) leaves it at
/// normal priority, which is correct, only less kind to the handlers.
fn lower_this_thread() {
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // On Linux "process" priority given a thread id sets that thread's
        // alone (nice is per task).
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), EVIDENCE_NICE) {
            tracing::debug!(error = %e, "evidence thread keeps normal priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn evidence_work_runs_below_the_handlers() {
        let handler = own_nice();
        let evidence = run(own_nice).await.unwrap();
        assert_eq!(evidence, (handler + EVIDENCE_NICE).min(19));
        // The handler's thread is untouched.
        assert_eq!(own_nice(), handler);
    }
}
