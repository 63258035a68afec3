//! Activations exactly as PyTorch/timm define them:
//! relu(x) = max(x, 0); hard_swish(x) = x * relu6(x + 3) / 6; hard_sigmoid(x) = relu6(x + 3) / 6;
//! gelu(x) = x/2 * (1 + erf(x / sqrt 2)) (the exact GELU, not the tanh approximation).
//! Division by 6 is done as a multiplication by 1/6 in both the scalar and vector forms
//! (at most one ulp from PyTorch, and identical between our reference and fast kernels).
//! `exp` and `erf` are evaluated by the same sequence of f32 operations in the scalar and the
//! vector form (no fused multiply-adds), so the two agree bit for bit on every platform.

use super::simd::F32x4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Identity = 0,
    Relu = 1,
    HardSwish = 2,
    HardSigmoid = 3,
    Gelu = 4,
}

const SIXTH: f32 = 1.0 / 6.0;

impl Act {
    /// Small integer code, for kernels monomorphized per activation (`const A: u8`).
    pub const fn code(self) -> u8 {
        self as u8
    }

    #[inline(always)]
    pub const fn from_code(c: u8) -> Act {
        match c {
            0 => Act::Identity,
            1 => Act::Relu,
            2 => Act::HardSwish,
            3 => Act::HardSigmoid,
            _ => Act::Gelu,
        }
    }

    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::Identity => x,
            Act::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Act::HardSwish => x * relu6(x + 3.0) * SIXTH,
            Act::HardSigmoid => relu6(x + 3.0) * SIXTH,
            Act::Gelu => gelu(x),
        }
    }

    #[inline(always)]
    pub fn apply4(self, x: F32x4) -> F32x4 {
        match self {
            Act::Identity => x,
            Act::Relu => x.max(F32x4::splat(0.0)),
            Act::HardSwish => {
                let r = x.add(F32x4::splat(3.0)).max(F32x4::splat(0.0)).min(F32x4::splat(6.0));
                x.mul(r).mul(F32x4::splat(SIXTH))
            }
            Act::HardSigmoid => {
                let r = x.add(F32x4::splat(3.0)).max(F32x4::splat(0.0)).min(F32x4::splat(6.0));
                r.mul(F32x4::splat(SIXTH))
            }
            Act::Gelu => gelu4(x),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Act::Identity => "identity",
            Act::Relu => "relu",
            Act::HardSwish => "hard_swish",
            Act::HardSigmoid => "hard_sigmoid",
            Act::Gelu => "gelu",
        }
    }
}

#[inline(always)]
fn relu6(x: f32) -> f32 {
    let x = if x < 0.0 { 0.0 } else { x };
    if x > 6.0 {
        6.0
    } else {
        x
    }
}

// exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 split in
// a short high part, exact when multiplied by n, and the rest), e^r by its Taylor series to r^7
// (truncation < 1e-8 relative, below f32 rounding). Arguments are clamped so 2^n stays normal.
const EXP_LO: f32 = -87.0;
const EXP_HI: f32 = 88.0;
const LOG2_E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4; // 0x3f318000: 9 significant bits
const LN2_LO: f32 = -2.121_944_4e-4; // ln 2 - LN2_HI
/// 1.5 * 2^23: adding and subtracting it rounds |t| < 2^22 to the nearest integer.
const ROUND: f32 = 12_582_912.0;
const EXP_TAYLOR: [f32; 8] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// e^x to about 2 ulp (inputs below -87 give e^-87, above 88 give e^88).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.max(EXP_LO).min(EXP_HI);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = EXP_TAYLOR[7];
    for &c in EXP_TAYLOR[..7].iter().rev() {
        p = p * r + c;
    }
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// [`exp`] on four lanes (bit-identical to it).
#[inline(always)]
pub fn exp4(x: F32x4) -> F32x4 {
    let x = x.max(F32x4::splat(EXP_LO)).min(F32x4::splat(EXP_HI));
    let n = x.mul(F32x4::splat(LOG2_E)).add(F32x4::splat(ROUND)).sub(F32x4::splat(ROUND));
    let r = x.sub(n.mul(F32x4::splat(LN2_HI))).sub(n.mul(F32x4::splat(LN2_LO)));
    let mut p = F32x4::splat(EXP_TAYLOR[7]);
    for &c in EXP_TAYLOR[..7].iter().rev() {
        p = p.mul(r).add(F32x4::splat(c));
    }
    p.mul(n.pow2i())
}

// 1 + erf(z), the factor of gelu, in two pieces joined without a branch:
// - |z| <= 1: the Maclaurin series of erf, z * (c0 + c1 z^2 + ... + c11 z^22) (terms shrink
//   fast, so no cancellation; truncation below 1e-9);
// - |z| > 1: erfc(|z|) = t * (a1 + a2 t + ... + a5 t^4) * e^(-z^2), t = 1 / (1 + P |z|):
//   Hastings' approximation (Abramowitz & Stegun 7.1.26), absolute error below 1.5e-7, then
//   1 + erf(z) = 2 - erfc(|z|) or erfc(|z|) by the sign of z.
// gelu(x) comes out within 2e-7 * |x| of the exact value (the rounding of the result alone is
// up to 6e-8).
const ERF_SERIES: [f32; 12] = [1.128379225730896, -0.37612637877464294, 0.11283791810274124, -0.02686617150902748, 0.005223977845162153, -0.0008548327023163438, 0.00012055332626914605, -1.4925650248187594e-05, 1.6462114444948384e-06, -1.6365844146548625e-07, 1.4807192805221803e-08, -1.2290555240213052e-09];
const ERF_P: f32 = 0.327_591_1;
const ERF_A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_7, -1.453_152_1, 1.061_405_4];
/// Multiplying by this and clamping to [-1, 1] gives the sign of a value, exactly +-1 unless
/// the value is within 2^-100 of 0.
const STEP: f32 = 1.267_650_6e30;

/// Exact (erf) GELU.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.max(0.0 - z);
    // Near 0: the series on z clamped to [-1, 1].
    let zs = z.max(-1.0).min(1.0);
    let z2 = zs * zs;
    let mut s = ERF_SERIES[11];
    for &c in ERF_SERIES[..11].iter().rev() {
        s = s * z2 + c;
    }
    let near = 1.0 + zs * s;
    // Far: Hastings on |z| clamped to >= 1.
    let al = a.max(1.0);
    let t = 1.0 / (1.0 + ERF_P * al);
    let mut p = ERF_A[4];
    for &c in ERF_A[..4].iter().rev() {
        p = p * t + c;
    }
    let erfc = (p * t) * exp(0.0 - al * al);
    let sign = (z * STEP).max(-1.0).min(1.0);
    let far = 1.0 + sign * (1.0 - erfc);
    let w = ((a - 1.0) * STEP).max(0.0).min(1.0);
    (x * 0.5) * (near * (1.0 - w) + far * w)
}

/// [`gelu`] on four lanes (bit-identical to it).
#[inline(always)]
pub fn gelu4(x: F32x4) -> F32x4 {
    let splat = F32x4::splat;
    let (zero, one) = (splat(0.0), splat(1.0));
    let z = x.mul(splat(std::f32::consts::FRAC_1_SQRT_2));
    let a = z.max(zero.sub(z));
    let zs = z.max(splat(-1.0)).min(one);
    let z2 = zs.mul(zs);
    let mut s = splat(ERF_SERIES[11]);
    for &c in ERF_SERIES[..11].iter().rev() {
        s = s.mul(z2).add(splat(c));
    }
    let near = one.add(zs.mul(s));
    let al = a.max(one);
    let t = one.div(one.add(splat(ERF_P).mul(al)));
    let mut p = splat(ERF_A[4]);
    for &c in ERF_A[..4].iter().rev() {
        p = p.mul(t).add(splat(c));
    }
    let erfc = p.mul(t).mul(exp4(zero.sub(al.mul(al))));
    let sign = z.mul(splat(STEP)).max(splat(-1.0)).min(one);
    let far = one.add(sign.mul(one.sub(erfc)));
    let w = a.sub(one).mul(splat(STEP)).max(zero).min(one);
    x.mul(splat(0.5)).mul(near.mul(one.sub(w)).add(far.mul(w)))
}

/// Apply `act` in place over a slice (vector body, scalar tail).
pub fn apply_inplace(act: Act, xs: &mut [f32]) {
    if act == Act::Identity {
        return;
    }
    let n4 = xs.len() / 4 * 4;
    let p = xs.as_mut_ptr();
    let mut i = 0;
    while i < n4 {
        // SAFETY: i + 4 <= n4 <= xs.len().
        unsafe { act.apply4(F32x4::load(p.add(i))).store(p.add(i)) };
        i += 4;
    }
    for x in &mut xs[n4..] {
        *x = act.apply(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_matches_definitions() {
        for &x in &[-10.0f32, -3.0, -2.5, -1.0, -0.0, 0.0, 0.5, 2.9, 3.0, 7.0] {
            let r6 = (x + 3.0).clamp(0.0, 6.0);
            assert_eq!(Act::Relu.apply(x), x.max(0.0));
            assert!((Act::HardSwish.apply(x) - x * r6 / 6.0).abs() <= 1e-6 * x.abs().max(1.0));
            assert!((Act::HardSigmoid.apply(x) - r6 / 6.0).abs() <= 1e-7);
        }
        assert_eq!(Act::HardSigmoid.apply(-3.0), 0.0);
        assert_eq!(Act::HardSigmoid.apply(3.0), 1.0);
        assert_eq!(Act::HardSwish.apply(-4.0), 0.0);
        assert_eq!(Act::HardSwish.apply(5.0), 5.0);
    }

    /// erf in f64: its Maclaurin series for |z| <= 3, the asymptotic erfc series beyond.
    fn erf64(z: f64) -> f64 {
        let a = z.abs();
        let v = if a <= 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let s = 1.0 / (2.0 * a * a);
            let series = 1.0 - s + 3.0 * s * s - 15.0 * s * s * s + 105.0 * s.powi(4);
            1.0 - (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series
        };
        v.copysign(z)
    }

    #[test]
    fn gelu_and_exp_are_accurate() {
        let mut worst = (0f64, 0f64);
        for i in 0..=40_000 {
            let x = (-10.0 + i as f64 * 5e-4) as f32 as f64;
            let want = 0.5 * x * (1.0 + erf64(x / std::f64::consts::SQRT_2));
            let got = Act::Gelu.apply(x as f32) as f64;
            // Hastings' bound beyond |z| = 1 (1.5e-7 on erf, 7.5e-8 |x| on gelu) + f32 evaluation.
            let err = (got - want).abs() / x.abs().max(1e-30);
            worst.0 = worst.0.max(err);
            assert!(err <= 2e-7, "gelu({x}) = {got}, want {want}");
        }
        for i in 0..=20_000 {
            let x = -87.0 + i as f64 * (175.0 / 20_000.0);
            let err = ((exp(x as f32) as f64) / (x as f32 as f64).exp() - 1.0).abs();
            worst.1 = worst.1.max(err);
            assert!(err <= 3.0 * f32::EPSILON as f64, "exp({x}): relative error {err:e}");
        }
        assert_eq!(Act::Gelu.apply(0.0), 0.0);
        assert_eq!(Act::Gelu.apply(20.0), 20.0);
        assert_eq!(Act::Gelu.apply(-20.0), 0.0);
        eprintln!("gelu max relative error {:.2e}, exp {:.2e}", worst.0, worst.1);
    }

    #[test]
    fn vector_equals_scalar() {
        let xs: Vec<f32> = (0..41).map(|i| (i as f32 - 20.0) * 0.37).collect();
        let mut xs = xs;
        xs.extend([-12.0f32, -5.3, -1e-3, 1e-30, -1e-30, 3.3e-7, 9.5, 90.0, -90.0, 1e9]);
        for act in [Act::Identity, Act::Relu, Act::HardSwish, Act::HardSigmoid, Act::Gelu] {
            let mut v = xs.clone();
            apply_inplace(act, &mut v);
            for (a, x) in v.iter().zip(&xs) {
                assert_eq!(a.to_bits(), act.apply(*x).to_bits(), "{act:?} at {x}");
            }
        }
    }
}
