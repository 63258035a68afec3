//! Activations exactly as PyTorch/timm define them:
//! relu(x) = max(x, 0); hard_swish(x) = x * relu6(x + 3) / 6; hard_sigmoid(x) = relu6(x + 3) / 6.
//! Division by 6 is done as a multiplication by 1/6 in both the scalar and vector forms
//! (at most one ulp from PyTorch, and identical between our reference and fast kernels).

use super::simd::F32x4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Identity = 0,
    Relu = 1,
    HardSwish = 2,
    HardSigmoid = 3,
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
            _ => Act::HardSigmoid,
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
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Act::Identity => "identity",
            Act::Relu => "relu",
            Act::HardSwish => "hard_swish",
            Act::HardSigmoid => "hard_sigmoid",
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

    #[test]
    fn vector_equals_scalar() {
        let xs: Vec<f32> = (0..41).map(|i| (i as f32 - 20.0) * 0.37).collect();
        for act in [Act::Identity, Act::Relu, Act::HardSwish, Act::HardSigmoid] {
            let mut v = xs.clone();
            apply_inplace(act, &mut v);
            for (a, x) in v.iter().zip(&xs) {
                assert_eq!(a.to_bits(), act.apply(*x).to_bits(), "{act:?} at {x}");
            }
        }
    }
}
