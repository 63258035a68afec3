//! Parallel execution of a forward pass as a *team*: every thread of rayon's pool runs the same
//! sequence of stages (one rayon broadcast per forward pass, not one parallel region per layer),
//! claims tasks of each stage from a shared ticket counter, and meets the others at a barrier
//! before the next stage. A stage boundary costs about a microsecond instead of a thread wake-up.
//!
//! Tasks are cut so that their boundaries never change what an output element is computed from,
//! so results are bit-identical for any thread count.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex};

/// Spins before a waiting thread blocks. Waking a blocked thread costs tens of microseconds,
/// often more than the imbalance between members at a stage end, so members spin for a few
/// hundred microseconds (a forward pass has ~70 stages) and only block when a mate is really
/// descheduled. wasm has no pause instruction, so its iterations are shorter.
const SPIN_LIMIT: u32 = if cfg!(target_family = "wasm") { 1 << 18 } else { 1 << 16 };

/// Set while a team runs. Two teams sharing pool threads could each wait at a barrier for a
/// thread busy in the other, so a forward pass that finds a team running goes solo instead.
static TEAM_ACTIVE: AtomicBool = AtomicBool::new(false);

/// State shared by the members of one team.
pub struct TeamSync {
    size: usize,
    tickets: AtomicUsize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl TeamSync {
    pub fn new(size: usize) -> Self {
        TeamSync {
            size: size.max(1),
            tickets: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    fn barrier(&self) {
        let gen = self.generation.load(SeqCst);
        if self.arrived.fetch_add(1, SeqCst) + 1 == self.size {
            self.arrived.store(0, SeqCst);
            self.generation.fetch_add(1, SeqCst);
            if self.sleepers.load(SeqCst) > 0 {
                let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.wake.notify_all();
            }
            return;
        }
        for _ in 0..SPIN_LIMIT {
            if self.generation.load(Acquire) != gen {
                return;
            }
            core::hint::spin_loop();
        }
        self.sleepers.fetch_add(1, SeqCst);
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.generation.load(SeqCst) == gen {
            g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(g);
        self.sleepers.fetch_sub(1, SeqCst);
    }
}

/// One thread's membership in a team (or a team of one).
pub struct Team<'a> {
    pub index: usize,
    pub size: usize,
    sync: Option<&'a TeamSync>,
    /// First ticket of the current stage (every member advances it identically).
    base: Cell<usize>,
}

impl Team<'static> {
    /// A team of one: stages run their tasks in order on the calling thread.
    pub fn solo() -> Self {
        Team { index: 0, size: 1, sync: None, base: Cell::new(0) }
    }
}

impl<'a> Team<'a> {
    pub fn member(index: usize, sync: &'a TeamSync) -> Self {
        Team { index, size: sync.size, sync: Some(sync), base: Cell::new(0) }
    }

    /// Run tasks `0..n` across the team; returns when every member has finished this stage,
    /// so the next stage may read what this one wrote. Every member must call `stage` with the
    /// same `n`, in the same order.
    pub fn stage(&self, n: usize, f: impl Fn(usize)) {
        let Some(sync) = self.sync else {
            (0..n).for_each(f);
            return;
        };
        let base = self.base.get();
        loop {
            let t = sync.tickets.fetch_add(1, Relaxed) - base;
            if t >= n {
                break;
            }
            f(t);
        }
        // Each member draws exactly one ticket past the end, so the next stage starts here.
        self.base.set(base + n + self.size);
        sync.barrier();
    }
}

/// Run `f` on every thread of the current rayon pool as one team (called from inside or
/// outside the pool), or alone on the calling thread when the pool has one thread or another
/// team is running. Returns the team size used.
pub fn with_team(f: impl Fn(&Team) + Sync) -> usize {
    let threads = rayon::current_num_threads();
    if threads <= 1 || TEAM_ACTIVE.compare_exchange(false, true, Acquire, Relaxed).is_err() {
        f(&Team::solo());
        return 1;
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            TEAM_ACTIVE.store(false, Release);
        }
    }
    let _done = Done;
    let sync = TeamSync::new(threads);
    rayon::broadcast(|ctx| f(&Team::member(ctx.index(), &sync)));
    threads
}

/// A raw output buffer that team members write disjoint parts of.
#[derive(Clone, Copy)]
pub struct Out {
    ptr: *mut f32,
    pub len: usize,
}
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    pub fn new(buf: &mut [f32]) -> Out {
        Out { ptr: buf.as_mut_ptr(), len: buf.len() }
    }
    /// # Safety
    /// `ptr` must be valid for `len` writes for as long as the `Out` is used.
    pub unsafe fn from_raw(ptr: *mut f32, len: usize) -> Out {
        Out { ptr, len }
    }
    #[inline(always)]
    pub fn ptr(self) -> *mut f32 {
        self.ptr
    }
}

/// Split `total` items into at most `parts` chunks, each a multiple of `align` (except the last).
/// Returns the chunk size.
pub fn chunk_size(total: usize, parts: usize, align: usize) -> usize {
    let parts = parts.max(1);
    let per = total.div_ceil(parts);
    per.div_ceil(align).max(1) * align
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn every_task_runs_once_per_stage() {
        let counts: Vec<AtomicUsize> = (0..40).map(|_| AtomicUsize::new(0)).collect();
        crate::testutil::run_with_threads(3, |team| {
            for stage in 0..200 {
                let n = stage % 7 + (stage % 3) * 11;
                team.stage(n, |t| {
                    counts[t].fetch_add(1, Relaxed);
                });
            }
        });
        let expected: Vec<usize> = (0..40).map(|t| (0..200).filter(|s| t < s % 7 + (s % 3) * 11).count()).collect();
        let got: Vec<usize> = counts.iter().map(|c| c.load(Relaxed)).collect();
        assert_eq!(got, expected);
    }

    /// Forward passes started from several pool threads at once must neither deadlock nor
    /// run a task twice.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn concurrent_teams_from_inside_the_pool() {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let total = AtomicUsize::new(0);
        pool.install(|| {
            (0..24).into_par_iter().for_each(|_| {
                with_team(|team| {
                    for _ in 0..50 {
                        team.stage(5, |_| {
                            total.fetch_add(1, Relaxed);
                        });
                    }
                });
            })
        });
        assert_eq!(total.load(Relaxed), 24 * 50 * 5);
    }

    #[test]
    fn solo_team_runs_in_order() {
        let seen = Mutex::new(Vec::new());
        Team::solo().stage(5, |t| seen.lock().unwrap().push(t));
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }
}
