//! Deterministic pseudo-random numbers shared by the tests and by `tools/make_fixtures.py`.
//!
//! SplitMix64 is counter based: value `i` of a stream seeded with `s` is `mix(s + (i+1)*GOLDEN)`,
//! so the Python script computes the same numbers with vectorized numpy uint64 arithmetic.
//! Floats are formed in f64 and rounded once to f32, identically on both sides.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in [lo, hi): value `i` of stream `seed`.
#[inline]
pub fn uniform(seed: u64, i: u64, lo: f64, hi: f64) -> f32 {
    let u = (mix(seed.wrapping_add(i.wrapping_add(1).wrapping_mul(GOLDEN))) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (lo + (hi - lo) * u) as f32
}

/// FNV-1a 64-bit hash, used to give every tensor name its own stream.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A sequential generator for unit tests.
pub struct Lcg {
    seed: u64,
    i: u64,
}

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg { seed, i: 0 }
    }
    pub fn next(&mut self, lo: f64, hi: f64) -> f32 {
        self.i += 1;
        uniform(self.seed, self.i - 1, lo, hi)
    }
    /// `n` values uniform in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f64) -> Vec<f32> {
        (0..n).map(|_| self.next(-scale, scale)).collect()
    }
}

/// Run `f` as a team of exactly `threads` (alone on wasm, which has no threads in tests).
/// Only one team runs at a time per process, so this waits for other tests' teams.
pub fn run_with_threads(threads: usize, f: impl Fn(&crate::kernels::parallel::Team) + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        // A solo run (when another team was active) must not count: retry until the team forms.
        for _ in 0..10_000 {
            let formed = std::sync::atomic::AtomicBool::new(false);
            pool.install(|| {
                crate::kernels::parallel::with_team(|team| {
                    if team.size == threads {
                        formed.store(true, std::sync::atomic::Ordering::Relaxed);
                        f(team);
                    } else {
                        // Stand-in: do nothing, try again.
                    }
                })
            });
            if formed.into_inner() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("could not form a team of {threads} threads");
    }
    #[cfg(target_family = "wasm")]
    {
        let _ = threads;
        f(&crate::kernels::parallel::Team::solo());
    }
}
