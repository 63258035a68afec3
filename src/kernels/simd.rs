//! A 4-lane f32 vector with one implementation per platform.
//!
//! The fast kernels are written once against `F32x4`. On wasm32 with `+simd128` it is a `v128`
//! (what ships to browsers); on x86_64 it is an SSE register, so `cargo test` natively runs the
//! very same kernel code (tiling, edge handling, accumulation order) that runs in the browser.
//!
//! Instruction sets (one kernel source, one variant per build, named by `SIMD_BACKEND`):
//! - `wasm-simd128`, `sse2`: `mul_add` is a mul then an add, so these round identically and the
//!   kernels equal their plain references bit for bit;
//! - `wasm-relaxed-simd` (`+relaxed-simd`): `mul_add` is `f32x4.relaxed_madd`, which the engine
//!   may fuse (one rounding: x86 FMA3, ARM fmla) or not. Kernels then match their references
//!   within an FMA tolerance (`FUSED_MADD` tells the tests which comparison applies).

#![allow(clippy::missing_safety_doc)]

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self(f32x4_splat(x))
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(v128_load(p as *const v128))
        }
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> Self {
            Self(v128_load32_splat(p as *const u32))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            Self(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            Self(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            Self(f32x4_div(self.0, o.0))
        }
        /// 2^n for lanes holding integers n in [-126, 127].
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            Self(i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(self.0), i32x4_splat(127)), 23))
        }
        /// self + a * b: relaxed (possibly fused) multiply-add in the relaxed-SIMD build.
        #[cfg(target_feature = "relaxed-simd")]
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(f32x4_relaxed_madd(a.0, b.0, self.0))
        }
        /// self + a * b, rounded twice (mul, then add).
        #[cfg(not(target_feature = "relaxed-simd"))]
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            self.add(a.mul(b))
        }
        /// max(self, o) for non-NaN inputs (maps to a single maxps in V8).
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            Self(f32x4_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            Self(f32x4_pmin(self.0, o.0))
        }
        #[inline(always)]
        pub fn lane<const L: usize>(self) -> f32 {
            f32x4_extract_lane::<L>(self.0)
        }
        /// Broadcast lane `L` to all lanes.
        #[inline(always)]
        pub fn dup<const L: usize>(self) -> Self {
            Self(i32x4_shuffle::<L, L, L, L>(self.0, self.0))
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;

    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F32x4(__m128);

    // SSE2 is part of the x86_64 baseline, so these intrinsics are always available.
    impl F32x4 {
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            unsafe { Self(_mm_set1_ps(x)) }
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(_mm_loadu_ps(p))
        }
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> Self {
            Self(_mm_set1_ps(*p))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            _mm_storeu_ps(p, self.0)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            unsafe { Self(_mm_add_ps(self.0, o.0)) }
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            unsafe { Self(_mm_sub_ps(self.0, o.0)) }
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            unsafe { Self(_mm_mul_ps(self.0, o.0)) }
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            unsafe { Self(_mm_div_ps(self.0, o.0)) }
        }
        /// 2^n for lanes holding integers n in [-126, 127].
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            unsafe { Self(_mm_castsi128_ps(_mm_slli_epi32::<23>(_mm_add_epi32(_mm_cvttps_epi32(self.0), _mm_set1_epi32(127))))) }
        }
        /// self + a * b, rounded twice (SSE2 has no FMA; as the SIMD128 build).
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            // Operand order chosen to match wasm's pmax(a, b) = a < b ? b : a.
            unsafe { Self(_mm_max_ps(o.0, self.0)) }
        }
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            unsafe { Self(_mm_min_ps(o.0, self.0)) }
        }
        #[inline(always)]
        pub fn lane<const L: usize>(self) -> f32 {
            let mut a = [0f32; 4];
            unsafe { _mm_storeu_ps(a.as_mut_ptr(), self.0) };
            a[L]
        }
        #[inline(always)]
        pub fn dup<const L: usize>(self) -> Self {
            unsafe {
                Self(match L {
                    0 => _mm_shuffle_ps::<0x00>(self.0, self.0),
                    1 => _mm_shuffle_ps::<0x55>(self.0, self.0),
                    2 => _mm_shuffle_ps::<0xAA>(self.0, self.0),
                    _ => _mm_shuffle_ps::<0xFF>(self.0, self.0),
                })
            }
        }
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
mod imp {
    /// Portable fallback (wasm without simd128, other CPUs): plain arrays the compiler may vectorize.
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        fn map2(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            Self([f(self.0[0], o.0[0]), f(self.0[1], o.0[1]), f(self.0[2], o.0[2]), f(self.0[3], o.0[3])])
        }
        #[inline(always)]
        pub fn splat(x: f32) -> Self {
            Self([x; 4])
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> Self {
            Self(core::ptr::read_unaligned(p as *const [f32; 4]))
        }
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> Self {
            Self([*p; 4])
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            core::ptr::write_unaligned(p as *mut [f32; 4], self.0)
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            self.map2(o, |a, b| a + b)
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            self.map2(o, |a, b| a - b)
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            self.map2(o, |a, b| a * b)
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            self.map2(o, |a, b| a / b)
        }
        /// 2^n for lanes holding integers n in [-126, 127].
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            self.map2(self, |n, _| f32::from_bits(((n as i32 + 127) as u32) << 23))
        }
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            self.map2(o, |a, b| if a < b { b } else { a })
        }
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            self.map2(o, |a, b| if b < a { b } else { a })
        }
        #[inline(always)]
        pub fn lane<const L: usize>(self) -> f32 {
            self.0[L]
        }
        #[inline(always)]
        pub fn dup<const L: usize>(self) -> Self {
            Self([self.0[L]; 4])
        }
    }
}

pub use imp::F32x4;

/// Human-readable name of the vector implementation compiled in.
pub const SIMD_BACKEND: &str = if cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd")) {
    "wasm-relaxed-simd"
} else if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
    "wasm-simd128"
} else if cfg!(target_arch = "x86_64") {
    "sse2"
} else {
    "scalar"
};

/// Whether `F32x4::mul_add` may round once (relaxed SIMD): kernels then match their plain
/// references within `madd_tolerance`, otherwise bit for bit.
pub const FUSED_MADD: bool = cfg!(all(target_arch = "wasm32", target_feature = "relaxed-simd"));

/// Largest |fast - reference| allowed for an output that sums `terms` products into `reference`
/// when one side may fuse its multiply-adds: each fused step skips one product rounding
/// (<= eps/2 of the product) and the partial sums then round differently (<= eps/2 of the sum
/// each), so the gap grows with the number of terms and the magnitude. Products in the kernel
/// tests are <= 1, and the accumulated values are O(sqrt(terms)). Zero without fusion: exact.
pub fn madd_tolerance(terms: usize, reference: f32) -> f32 {
    if FUSED_MADD {
        terms as f32 * f32::EPSILON * (1.0 + reference.abs())
    } else {
        0.0
    }
}

/// Asserts that `got` equals `want` bit for bit, or within `madd_tolerance` in the
/// relaxed-SIMD build. `terms`: products summed per output.
#[cfg(test)]
pub fn assert_kernel_matches(got: &[f32], want: &[f32], terms: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (x, y)) in got.iter().zip(want).enumerate() {
        if FUSED_MADD {
            let tol = madd_tolerance(terms, *y);
            assert!((x - y).abs() <= tol, "{what} at {i}: {x} vs {y} (tolerance {tol})");
        } else {
            assert_eq!(x.to_bits(), y.to_bits(), "{what} at {i}: {x} vs {y}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm_builds_use_simd128() {
        // The shipped wasm and the WASI test run are compiled with +simd128.
        if cfg!(target_arch = "wasm32") {
            let want = if cfg!(target_feature = "relaxed-simd") { "wasm-relaxed-simd" } else { "wasm-simd128" };
            assert_eq!(SIMD_BACKEND, want);
        }
    }

    /// (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly: fused keeps it, mul-then-add rounds the
    /// product to 1 and returns 0. Either is a correct relaxed_madd; SIMD128/SSE2 must give 0.
    #[test]
    fn mul_add_rounding() {
        let e = f32::EPSILON;
        let v = F32x4::splat(-1.0).mul_add(F32x4::splat(1.0 + e), F32x4::splat(1.0 - e)).lane::<0>();
        let fused = -(e * e);
        assert!(v == 0.0 || (FUSED_MADD && v == fused), "{v}");
        eprintln!("{SIMD_BACKEND}: mul_add {}", if v == fused { "fused (one rounding)" } else { "unfused (two roundings)" });
    }

    #[test]
    fn lanes_and_ops() {
        let a = [1.0f32, -2.0, 3.5, -0.0];
        let b = [0.5f32, 4.0, -1.0, 2.0];
        unsafe {
            let va = F32x4::load(a.as_ptr());
            let vb = F32x4::load(b.as_ptr());
            let mut out = [0f32; 4];
            va.mul(vb).add(va).store(out.as_mut_ptr());
            for i in 0..4 {
                assert_eq!(out[i], a[i] * b[i] + a[i]);
            }
            va.max(vb).store(out.as_mut_ptr());
            assert_eq!(out, [1.0, 4.0, 3.5, 2.0]);
            va.min(vb).store(out.as_mut_ptr());
            assert_eq!(out, [0.5, -2.0, -1.0, -0.0]);
            assert_eq!(va.dup::<2>().lane::<0>(), 3.5);
            assert_eq!(va.dup::<1>().lane::<3>(), -2.0);
            assert_eq!(F32x4::load_splat(&b[1]).lane::<2>(), 4.0);
            va.sub(vb).store(out.as_mut_ptr());
            assert_eq!(out[1], -6.0);
            va.div(vb).store(out.as_mut_ptr());
            assert_eq!(out, [2.0, -0.5, -3.5, -0.0]);
            let n = [-126.0f32, -1.0, 0.0, 127.0];
            F32x4::load(n.as_ptr()).pow2i().store(out.as_mut_ptr());
            assert_eq!(out, [f32::MIN_POSITIVE, 0.5, 1.0, 2f32.powi(127)]);
            // Exact products: fused or not, the same result.
            va.mul_add(vb, va).store(out.as_mut_ptr());
            assert_eq!(out, [1.5, -10.0, 0.0, -0.0]);
        }
    }
}
