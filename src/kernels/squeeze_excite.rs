//! Squeeze-and-excite and global average pooling over NHWC activations.
//!
//! SE = mean over pixels -> 1x1 reduce + act -> 1x1 expand + hard-sigmoid -> per-channel scale.
//! The two tiny FCs run on the pointwise GEMM with M = 1; this file holds the pooling and the
//! channel scaling, each with a reference beside the vector version.

use super::activation::Act;
use super::pointwise::{pointwise, PackedPointwise};
use super::simd::F32x4;

/// Reference mean over pixels: x is [hw][c], out is [c].
pub fn channel_mean_ref(x: &[f32], hw: usize, c: usize, out: &mut [f32]) {
    for ch in 0..c {
        let mut s = 0f32;
        for p in 0..hw {
            s += x[p * c + ch];
        }
        out[ch] = s / hw as f32;
    }
}

/// Vector mean over pixels; sums each channel in pixel order, like the reference.
pub fn channel_mean(x: &[f32], hw: usize, c: usize, out: &mut [f32]) {
    assert!(x.len() >= hw * c && out.len() >= c && hw > 0);
    let c4 = c / 4 * 4;
    out[..c].fill(0.0);
    let o = out.as_mut_ptr();
    let xp = x.as_ptr();
    for p in 0..hw {
        let row = unsafe { xp.add(p * c) };
        let mut ch = 0;
        while ch < c4 {
            // SAFETY: ch + 4 <= c and the row holds c values.
            unsafe { F32x4::load(o.add(ch)).add(F32x4::load(row.add(ch))).store(o.add(ch)) };
            ch += 4;
        }
        for ch in c4..c {
            out[ch] += x[p * c + ch];
        }
    }
    let d = hw as f32;
    for v in &mut out[..c] {
        *v /= d;
    }
}

/// Reference channel scaling in place: x[p][ch] *= s[ch].
pub fn scale_channels_ref(x: &mut [f32], hw: usize, c: usize, s: &[f32]) {
    for p in 0..hw {
        for ch in 0..c {
            x[p * c + ch] *= s[ch];
        }
    }
}

pub fn scale_channels(x: &mut [f32], hw: usize, c: usize, s: &[f32]) {
    assert!(x.len() >= hw * c && s.len() >= c);
    let c4 = c / 4 * 4;
    let xp = x.as_mut_ptr();
    for p in 0..hw {
        let mut ch = 0;
        while ch < c4 {
            // SAFETY: p * c + ch + 4 <= hw * c <= x.len(), ch + 4 <= c <= s.len().
            unsafe {
                let q = xp.add(p * c + ch);
                F32x4::load(q).mul(F32x4::load(s.as_ptr().add(ch))).store(q);
            }
            ch += 4;
        }
        for ch in c4..c {
            x[p * c + ch] *= s[ch];
        }
    }
}

/// Weights of one squeeze-excite module.
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    pub reduce: PackedPointwise,
    pub reduce_act: Act,
    pub expand: PackedPointwise,
}

impl SqueezeExcite {
    /// Gate the activations in place. `scratch` needs `2 * c + rd` floats.
    pub fn apply(&self, x: &mut [f32], hw: usize, scratch: &mut [f32]) {
        let c = self.expand.n;
        let rd = self.reduce.n;
        let (pooled, rest) = scratch.split_at_mut(c);
        let (hidden, rest) = rest.split_at_mut(rd);
        let gate = &mut rest[..c];
        channel_mean(x, hw, c, pooled);
        pointwise(pooled, 1, &self.reduce, self.reduce_act, None, hidden);
        pointwise(hidden, 1, &self.expand, Act::HardSigmoid, None, gate);
        scale_channels(x, hw, c, gate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Lcg;

    #[test]
    fn vector_equals_reference() {
        for &(hw, c) in &[(1, 1), (3, 5), (49, 72), (9, 13), (196, 480)] {
            let mut g = Lcg::new((hw * c) as u64);
            let x = g.vec(hw * c, 2.0);
            let s = g.vec(c, 1.0);
            let (mut m1, mut m2) = (vec![0f32; c], vec![0f32; c]);
            channel_mean_ref(&x, hw, c, &mut m1);
            channel_mean(&x, hw, c, &mut m2);
            assert!(m1.iter().zip(&m2).all(|(a, b)| a.to_bits() == b.to_bits()));
            let (mut x1, mut x2) = (x.clone(), x.clone());
            scale_channels_ref(&mut x1, hw, c, &s);
            scale_channels(&mut x2, hw, c, &s);
            assert!(x1.iter().zip(&x2).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}
