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
