//! Parallel execution of a forward pass as a *team*: every thread of rayon's pool runs the same
//! sequence of stages (one rayon broadcast per forward pass, not one parallel region per layer)
//! and helps with the tasks of each stage. A stage ends when its last task finishes, not when
//! every member has arrived: a member the OS deschedules between tasks does not hold the others
//! up, it skips the stages finished without it. Members claim tasks from both ends (even
//! indices from the front, odd from the back), so with two threads each keeps "its" rows from
//! stage to stage and reads what its own cache just wrote.
//!
//! Tasks are cut so that their boundaries never change what an output element is computed from,
//! so results are bit-identical for any thread count.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex};

/// Spins before a waiting member blocks. Waking a blocked thread costs tens of microseconds,
/// often more than the imbalance at a stage end, so members spin a while (a forward pass has
/// ~80 stages) and only block when the stage is really long or a mate is descheduled: then a
/// spinning member only keeps the core from the mate it waits for. About 50 us natively (2^12
/// pause iterations of ~12 ns; 2^16, 0.8 ms, made 2-thread passes on a loaded machine slower
/// than 1 thread); in wasm (no pause instruction, ~0.5 ns an iteration in V8) about 130 us,
/// where shorter budgets measured no better in Chromium or Firefox under load and lost the
/// best (quiet) passes.
const SPIN_LIMIT: u32 = if cfg!(target_family = "wasm") { 1 << 18 } else { 1 << 12 };

thread_local! {
    /// Most members the teams started by this thread get; 0: the whole pool. The browser
    /// runtime lowers it when it measures that fewer threads run faster than the pool has (e.g.
    /// WebKit reports 4 cores on 2), because a wasm thread pool cannot shrink once started.
    /// Per calling thread, so one engine's setting does not leak into another's.
    static TEAM_LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// Cap the size of the teams that this thread starts from now on (0: no cap).
pub fn set_team_limit(n: usize) {
    TEAM_LIMIT.with(|l| l.set(n));
}

/// Members a team started by this thread gets from the current rayon pool.
pub fn team_threads() -> usize {
    let pool = rayon::current_num_threads();
    match TEAM_LIMIT.with(|l| l.get()) {
        0 => pool,
        n => pool.min(n),
    }
}

/// Set while a team runs. Two teams sharing pool threads could each wait for a thread busy in
/// the other, so a forward pass that finds a team running goes solo instead.
static TEAM_ACTIVE: AtomicBool = AtomicBool::new(false);

/// `state` packs the current stage number (16 bits) and its unclaimed task range [lo, hi)
/// (24 bits each); hi = UNSET until the first member to reach the stage sets it to n.
const UNSET: u64 = (1 << 24) - 1;

const fn pack(seq: u64, lo: u64, hi: u64) -> u64 {
    (seq << 48) | (lo << 24) | hi
}

const fn unpack(v: u64) -> (u64, u64, u64) {
    (v >> 48, (v >> 24) & UNSET, v & UNSET)
}

/// State shared by the members of one team.
pub struct TeamSync {
    size: usize,
    state: AtomicU64,
    /// Tasks of the current stage finished so far.
    done: AtomicUsize,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    /// This team run is the one being traced.
    traced: bool,
}

impl TeamSync {
    pub fn new(size: usize) -> Self {
        TeamSync {
            size: size.max(1),
            state: AtomicU64::new(pack(0, 0, UNSET)),
            done: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            traced: false,
        }
    }

    /// Publish that stage `seq` is complete.
    fn advance(&self, seq: u64) {
        self.done.store(0, SeqCst);
        self.state.store(pack(seq + 1, 0, UNSET), SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Wait until stage `seq` is complete (true: it blocked).
    fn wait_past(&self, seq: u64) -> bool {
        for _ in 0..SPIN_LIMIT {
            if unpack(self.state.load(Acquire)).0 != seq {
                return false;
            }
            core::hint::spin_loop();
        }
        self.sleepers.fetch_add(1, SeqCst);
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while unpack(self.state.load(SeqCst)).0 == seq {
            g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(g);
        self.sleepers.fetch_sub(1, SeqCst);
        true
    }
}

/// One thread's membership in a team (or a team of one).
pub struct Team<'a> {
    pub index: usize,
    pub size: usize,
    sync: Option<&'a TeamSync>,
    /// Number of the stage this member is in (every member counts identically).
    seq: Cell<u64>,
}

impl Team<'static> {
    /// A team of one: stages run their tasks in order on the calling thread.
    pub fn solo() -> Self {
        Team { index: 0, size: 1, sync: None, seq: Cell::new(0) }
    }
}

impl<'a> Team<'a> {
    pub fn member(index: usize, sync: &'a TeamSync) -> Self {
        Team { index, size: sync.size, sync: Some(sync), seq: Cell::new(0) }
    }

    /// Stages this member has entered so far (the same count on every member between stages).
    pub fn stages_begun(&self) -> u64 {
        self.seq.get()
    }

    /// Run tasks `0..n` across the team; returns when all of them have finished, so the next
    /// stage may read what this one wrote. Every member must call `stage` with the same `n`, in
    /// the same order.
    pub fn stage(&self, n: usize, f: impl Fn(usize)) {
        let Some(sync) = self.sync else {
            (0..n).for_each(f);
            return;
        };
        assert!((n as u64) < UNSET, "too many tasks in one stage");
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        let from_front = self.index % 2 == 0;
        let traced = sync.traced;
        let me = trace::Member { seq, index: self.index };
        if traced {
            trace::arrive(me, n);
        }
        loop {
            let cur = sync.state.load(Acquire);
            let (s, lo, hi) = unpack(cur);
            if s != seq {
                if traced {
                    trace::leave(me, trace::Exit::Skipped);
                }
                return; // finished by the others while this member was elsewhere
            }
            if hi == UNSET {
                // First to arrive: open the stage (or close it at once when it has no tasks).
                let next = if n == 0 { pack(seq + 1, 0, UNSET) } else { pack(seq, 0, n as u64) };
                let _ = sync.state.compare_exchange(cur, next, AcqRel, Acquire);
                continue;
            }
            if lo == hi {
                let blocked = sync.wait_past(seq); // everything claimed; some tasks still running
                if traced {
                    trace::leave(me, if blocked { trace::Exit::Blocked } else { trace::Exit::Spun });
                }
                return;
            }
            let (claimed, task) = if from_front { (pack(seq, lo + 1, hi), lo) } else { (pack(seq, lo, hi - 1), hi - 1) };
            if sync.state.compare_exchange_weak(cur, claimed, AcqRel, Relaxed).is_ok() {
                let t0 = if traced { trace::now() } else { 0.0 };
                f(task as usize);
                let t1 = if traced { trace::task_done(me, t0) } else { 0.0 };
                if sync.done.fetch_add(1, AcqRel) + 1 == n {
                    sync.advance(seq);
                    if traced {
                        trace::finished(me, t1);
                    }
                    return;
                }
            }
        }
    }
}

/// Stage trace: when each member reached and left each stage of one team run, how it left, and
/// how long its tasks took. A diagnostic (`Network::trace_stages`): `start` arms it for the next
/// team run, which records into static slots (each written by one member only).
pub mod trace {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    /// Stages and members recorded (later ones are dropped, and the trace says so).
    pub const MAX_STAGES: usize = 512;
    pub const MAX_MEMBERS: usize = 4;

    /// How a member left a stage.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Exit {
        /// Never reached it (the pass ended first).
        #[default]
        Absent,
        /// Finished the stage's last task.
        Finished,
        /// Found every task claimed and spun until the last one finished.
        Spun,
        /// As `Spun`, but out of spins: blocked and was woken.
        Blocked,
        /// Arrived after the others had finished the stage.
        Skipped,
    }

    const EXITS: [Exit; 5] = [Exit::Absent, Exit::Finished, Exit::Spun, Exit::Blocked, Exit::Skipped];

    /// One member in one stage (ms on the trace's clock, relative to the pass's call).
    #[derive(Clone, Debug, Default, serde::Serialize)]
    pub struct MemberStage {
        pub arrive: f64,
        pub leave: f64,
        pub exit: Exit,
        pub tasks: u32,
        /// Time inside its tasks.
        pub busy: f64,
    }

    /// One stage of a team run.
    #[derive(Clone, Debug, serde::Serialize)]
    pub struct Stage {
        /// Index of the forward-pass step the stage belongs to (set by the network).
        pub step: usize,
        pub tasks: usize,
        /// When the last task finished.
        pub done: f64,
        pub members: Vec<MemberStage>,
    }

    /// One traced team run.
    #[derive(Clone, Debug, serde::Serialize)]
    pub struct Pass {
        pub team: usize,
        /// The caller's clock when it started the team, and when the team run returned to it
        /// (every other time is relative to the start).
        pub call: f64,
        pub returned: f64,
        pub stages: Vec<Stage>,
        /// Stages beyond MAX_STAGES were not recorded.
        pub truncated: bool,
    }

    #[derive(Clone, Copy)]
    pub(super) struct Member {
        pub seq: u64,
        pub index: usize,
    }

    const PER_MEMBER: usize = 5; // arrive, leave, exit, tasks, busy
    const FIELDS: usize = 2 + MAX_MEMBERS * PER_MEMBER; // tasks, done, members
    static ARMED: AtomicBool = AtomicBool::new(false);
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    static TEAM: AtomicU64 = AtomicU64::new(0);
    static CALL: AtomicU64 = AtomicU64::new(0);
    static RETURNED: AtomicU64 = AtomicU64::new(0);
    static STAGES: AtomicU64 = AtomicU64::new(0);
    #[allow(clippy::declare_interior_mutable_const)]
    const ZERO: AtomicU64 = AtomicU64::new(0);
    static SLOTS: [AtomicU64; MAX_STAGES * FIELDS] = [ZERO; MAX_STAGES * FIELDS];

    /// True for the first team run after `start` (the one traced).
    pub(super) fn take() -> bool {
        ARMED.swap(false, Relaxed)
    }

    pub(super) fn now() -> f64 {
        let f = CLOCK.load(Relaxed) as usize;
        if f == 0 {
            return 0.0;
        }
        // SAFETY: CLOCK only ever holds 0 or a `fn() -> f64` stored by `start`.
        let clock: fn() -> f64 = unsafe { std::mem::transmute::<usize, fn() -> f64>(f) };
        clock()
    }

    fn put(i: usize, v: f64) {
        SLOTS[i].store(v.to_bits(), Relaxed);
    }

    fn get(i: usize) -> f64 {
        f64::from_bits(SLOTS[i].load(Relaxed))
    }

    fn member_slot(m: Member, field: usize) -> Option<usize> {
        let seq = m.seq as usize;
        if seq >= MAX_STAGES || m.index >= MAX_MEMBERS {
            return None;
        }
        STAGES.fetch_max(m.seq + 1, Relaxed);
        Some(seq * FIELDS + 2 + m.index * PER_MEMBER + field)
    }

    pub(super) fn arrive(m: Member, tasks: usize) {
        if let Some(i) = member_slot(m, 0) {
            put(i, now());
            put(m.seq as usize * FIELDS, tasks as f64);
        }
    }

    pub(super) fn leave(m: Member, exit: Exit) {
        if let Some(i) = member_slot(m, 1) {
            put(i, now());
            put(i + 1, EXITS.iter().position(|&e| e == exit).unwrap_or(0) as f64);
        }
    }

    /// A task started at `t0` has ended; returns the time.
    pub(super) fn task_done(m: Member, t0: f64) -> f64 {
        let t1 = now();
        if let Some(i) = member_slot(m, 3) {
            put(i, get(i) + 1.0);
            put(i + 1, get(i + 1) + (t1 - t0));
        }
        t1
    }

    /// The member ran the stage's last task, which ended at `t1`.
    pub(super) fn finished(m: Member, t1: f64) {
        if (m.seq as usize) < MAX_STAGES {
            put(m.seq as usize * FIELDS + 1, t1);
        }
        leave(m, Exit::Finished);
    }

    pub(super) fn call(team: usize) {
        TEAM.store(team as u64, Relaxed);
        CALL.store(now().to_bits(), Relaxed);
    }

    pub(super) fn returned() {
        RETURNED.store(now().to_bits(), Relaxed);
    }

    /// Trace the next team run, reading `clock` (ms; one origin on every thread).
    pub fn start(clock: fn() -> f64) {
        for s in SLOTS.iter() {
            s.store(0, Relaxed);
        }
        for s in [&TEAM, &CALL, &RETURNED, &STAGES] {
            s.store(0, Relaxed);
        }
        CLOCK.store(clock as usize as u64, Relaxed);
        ARMED.store(true, Relaxed);
    }

    /// The traced team run's records (none when no team ran since `start`).
    pub fn stop() -> Pass {
        ARMED.store(false, Relaxed);
        let call = f64::from_bits(CALL.load(Relaxed));
        let team = TEAM.load(Relaxed) as usize;
        let rel = |t: f64| if t == 0.0 { 0.0 } else { t - call };
        let n = STAGES.load(Relaxed) as usize;
        let stages = (0..n.min(MAX_STAGES))
            .map(|k| {
                let b = k * FIELDS;
                let members = (0..team.min(MAX_MEMBERS))
                    .map(|m| {
                        let o = b + 2 + m * PER_MEMBER;
                        MemberStage { arrive: rel(get(o)), leave: rel(get(o + 1)), exit: EXITS[get(o + 2) as usize], tasks: get(o + 3) as u32, busy: get(o + 4) }
                    })
                    .collect();
                Stage { step: 0, tasks: get(b) as usize, done: rel(get(b + 1)), members }
            })
            .collect();
        Pass { team, call, returned: rel(f64::from_bits(RETURNED.load(Relaxed))), stages, truncated: n > MAX_STAGES }
    }
}

/// Run `f` on every thread of the current rayon pool as one team (called from inside or
/// outside the pool), or alone on the calling thread when the pool has one thread or another
/// team is running. Returns the team size used.
pub fn with_team(f: impl Fn(&Team) + Sync) -> usize {
    let threads = team_threads();
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
    let traced = trace::take();
    let sync = TeamSync { traced, ..TeamSync::new(threads) };
    if traced {
        trace::call(threads);
    }
    // Pool threads beyond the team limit return at once.
    rayon::broadcast(|ctx| {
        if ctx.index() < threads {
            f(&Team::member(ctx.index(), &sync))
        }
    });
    if traced {
        trace::returned();
    }
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

    /// A limited team uses only that many pool threads, and every task still runs once.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn team_limit_caps_the_members() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        // Retried while another test's team runs (this one then goes solo and does not count).
        for _ in 0..10_000 {
            let (max_index, total) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let size = pool.install(|| {
                set_team_limit(2);
                let size = with_team(|team| {
                    max_index.fetch_max(team.index, Relaxed);
                    for _ in 0..20 {
                        team.stage(9, |_| {
                            total.fetch_add(1, Relaxed);
                        });
                    }
                });
                set_team_limit(0);
                size
            });
            if size == 1 {
                std::thread::sleep(std::time::Duration::from_millis(1));
                continue;
            }
            assert_eq!(size, 2);
            assert!(max_index.load(Relaxed) <= 1);
            assert_eq!(total.load(Relaxed), 20 * 9);
            return;
        }
        panic!("no team formed");
    }

    #[test]
    fn solo_team_runs_in_order() {
        let seen = Mutex::new(Vec::new());
        Team::solo().stage(5, |t| seen.lock().unwrap().push(t));
        assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }
}
