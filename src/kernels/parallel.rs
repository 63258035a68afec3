//! Splitting kernel work over rayon's pool (native threads, or Web Workers via wasm-bindgen-rayon).
//!
//! Kernels cut their work into tasks whose boundaries never change what an output element is
//! computed from, so results are bit-identical for any thread count.

use rayon::prelude::*;

/// Number of threads kernels should plan for (1 when not running inside a multi-thread pool).
pub fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// Run `f(task)` for every task in `0..n`, in parallel when there is more than one thread.
pub fn for_each_task(n: usize, f: impl Fn(usize) + Sync + Send) {
    if n <= 1 || threads() == 1 {
        (0..n).for_each(f);
    } else {
        (0..n).into_par_iter().for_each(f);
    }
}

/// A raw pointer that tasks may share because each task writes a disjoint region.
#[derive(Clone, Copy)]
pub struct SharedMut<T>(pub *mut T);
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    #[inline(always)]
    pub fn ptr(self) -> *mut T {
        self.0
    }
}

/// Split `total` items into at most `parts` contiguous chunks, each a multiple of `align`
/// (except possibly the last). Returns the chunk size.
pub fn chunk_size(total: usize, parts: usize, align: usize) -> usize {
    let parts = parts.max(1);
    let per = total.div_ceil(parts);
    per.div_ceil(align).max(1) * align
}
