//! Data parallelism for the draw, on std threads.
//!
//! The draw's independent work (each stratum's target picks, each target's
//! hashes, building the result) runs on every core; what depends on draw
//! order (the officers' loads) stays on one thread. Results come back in
//! input order, so running in parallel never changes what is computed, only
//! where. wasm32 (the field app's front end) has no threads: there the
//! calling thread does all the work, in order.
//!
//! Threads take work from a shared queue in small blocks rather than one
//! fixed share each: on a busy machine a thread that is descheduled then
//! holds up the others for one block, not for half the work.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Items per block of [`map_range`] and chunks per block of
/// [`for_each_chunk_mut`]: taking a block costs next to nothing against
/// working through it.
const BLOCK: usize = 4096;

/// Runs `work` on the calling thread and on one more thread per other core
/// (wasm32: on the calling thread only), and waits for all of them. `work`
/// takes its jobs from a shared queue, so each job runs once whatever the
/// number of threads. A panic in a thread is raised again here.
fn on_every_core(work: impl Fn() + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::thread::scope(|s| {
            for _ in 1..cores {
                s.spawn(&work);
            }
            work();
        });
    }
    #[cfg(target_arch = "wasm32")]
    work();
}

/// `[f(&items[0]), f(&items[1]), …]`, the items taken one at a time: for a
/// few jobs of unequal cost (the strata).
pub(crate) fn map_each<'t, T: Sync, R: Send>(
    items: &'t [T],
    f: impl Fn(&'t T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(items.len()));
    on_every_core(|| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return;
            };
            let result = f(item);
            done.lock().expect("not poisoned").push((i, result));
        }
    });
    let mut done = done.into_inner().expect("not poisoned");
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}

/// `[f(0), f(1), …, f(len - 1)]`, in blocks: for many small jobs.
pub(crate) fn map_range<R: Send>(len: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let blocks: Vec<Range<usize>> = (0..len)
        .step_by(BLOCK)
        .map(|start| start..len.min(start + BLOCK))
        .collect();
    let mut out = Vec::with_capacity(len);
    for mut block in map_each(&blocks, |b| b.clone().map(&f).collect::<Vec<R>>()) {
        out.append(&mut block);
    }
    out
}

/// Calls `f(i, chunk)` for the i-th `chunk_len`-long chunk of `items`, in
/// blocks: for filling or finishing many results in place.
pub(crate) fn for_each_chunk_mut<T: Send>(
    items: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if items.is_empty() {
        return;
    }
    let blocks = Mutex::new(items.chunks_mut(BLOCK * chunk_len).enumerate());
    on_every_core(|| {
        loop {
            let Some((b, block)) = blocks.lock().expect("not poisoned").next() else {
                return;
            };
            for (i, chunk) in block.chunks_mut(chunk_len).enumerate() {
                f(b * BLOCK + i, chunk);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_across_blocks() {
        let len = 3 * BLOCK + 17;
        assert_eq!(
            map_range(len, |i| i * 3),
            (0..len).map(|i| i * 3).collect::<Vec<_>>()
        );
        assert_eq!(map_range(0, |i| i), Vec::<usize>::new());

        let items: Vec<usize> = (0..50).collect();
        assert_eq!(map_each(&items, |i| i + 1), (1..51).collect::<Vec<_>>());

        // Chunks of 3: every chunk gets its own index, across block borders.
        let mut chunks = vec![0usize; 3 * (2 * BLOCK + 5)];
        for_each_chunk_mut(&mut chunks, 3, |i, chunk| chunk.fill(i));
        let want: Vec<usize> = (0..2 * BLOCK + 5).flat_map(|i| [i; 3]).collect();
        assert_eq!(chunks, want);
    }
}
