//! Squeeze-and-excite and global average pooling over NHWC activations.
//!
//! SE = mean over pixels -> 1x1 reduce + act -> 1x1 expand + hard-sigmoid -> per-channel scale.
//! The two tiny FCs run on the pointwise GEMM with M = 1; this file holds the pooling and the
//! channel scaling, each with a reference beside the vector version.

use super::activation::Act;
use super::parallel::{chunk_size, Out, Team};
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

/// Vector mean over pixels of channels [c0, c0 + out.len()); sums each channel in pixel order,
/// like the reference.
fn channel_mean_range(x: &[f32], hw: usize, c: usize, c0: usize, out: &mut [f32]) {
    let n = out.len();
    assert!(c0 + n <= c && x.len() >= hw * c);
    let n4 = n / 4 * 4;
    out.fill(0.0);
    let o = out.as_mut_ptr();
    for p in 0..hw {
        let row = &x[p * c + c0..p * c + c0 + n];
        let mut j = 0;
        while j < n4 {
            // SAFETY: j + 4 <= n for both the row and the output.
            unsafe { F32x4::load(o.add(j)).add(F32x4::load(row.as_ptr().add(j))).store(o.add(j)) };
            j += 4;
        }
        for j in n4..n {
            out[j] += row[j];
        }
    }
    let d = hw as f32;
    for v in out.iter_mut() {
        *v /= d;
    }
}

/// Mean over pixels, x [hw][c] -> out [c], as one stage of `team` (split by channel groups).
pub fn channel_mean(team: &Team, x: &[f32], hw: usize, c: usize, out: Out) {
    assert!(x.len() >= hw * c && out.len >= c && hw > 0);
    let per = chunk_size(c, team.size, 16);
    team.stage(c.div_ceil(per), |t| {
        let c0 = t * per;
        let c1 = (c0 + per).min(c);
        // SAFETY: task t writes out[c0..c1] only.
        let o = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(c0), c1 - c0) };
        channel_mean_range(x, hw, c, c0, o);
    });
}

/// Reference channel scaling in place: x[p][ch] *= s[ch].
pub fn scale_channels_ref(x: &mut [f32], hw: usize, c: usize, s: &[f32]) {
    for p in 0..hw {
        for ch in 0..c {
            x[p * c + ch] *= s[ch];
        }
    }
}

fn scale_channels_rows(x: &mut [f32], hw: usize, c: usize, s: &[f32]) {
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

/// x[p][ch] *= s[ch] in place, as one stage of `team` (split by pixel rows).
pub fn scale_channels(team: &Team, x: Out, hw: usize, c: usize, s: &[f32]) {
    assert!(x.len >= hw * c && s.len() >= c);
    let per = chunk_size(hw, team.size * 2, 1);
    team.stage(hw.div_ceil(per), |t| {
        let p0 = t * per;
        let p1 = (p0 + per).min(hw);
        // SAFETY: task t owns pixels [p0, p1).
        let rows = unsafe { std::slice::from_raw_parts_mut(x.ptr().add(p0 * c), (p1 - p0) * c) };
        scale_channels_rows(rows, p1 - p0, c, s);
    });
}

/// Weights of one squeeze-excite module.
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    pub reduce: PackedPointwise,
    pub reduce_act: Act,
    pub expand: PackedPointwise,
}

impl SqueezeExcite {
    /// Gate the activations `x` ([hw][c]) in place: four stages of `team`. `scratch` needs
    /// `2 * c + rd` floats.
    pub fn apply(&self, team: &Team, x: Out, hw: usize, scratch: Out) {
        let c = self.expand.n;
        let rd = self.reduce.n;
        assert!(x.len >= hw * c && scratch.len >= 2 * c + rd);
        // SAFETY: the three scratch regions are disjoint; each is written in one stage and only
        // read in later ones (stages end with a barrier).
        let (pooled, hidden, gate) = unsafe {
            let p = scratch.ptr();
            (Out::from_raw(p, c), Out::from_raw(p.add(c), rd), Out::from_raw(p.add(c + rd), c))
        };
        let view = |o: Out, n: usize| unsafe { std::slice::from_raw_parts(o.ptr() as *const f32, n) };
        channel_mean(team, view(x, hw * c), hw, c, pooled);
        pointwise(team, view(pooled, c), 1, &self.reduce, self.reduce_act, None, hidden);
        pointwise(team, view(hidden, rd), 1, &self.expand, Act::HardSigmoid, None, gate);
        scale_channels(team, x, hw, c, view(gate, c));
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
            channel_mean(&Team::solo(), &x, hw, c, Out::new(&mut m2));
            assert!(m1.iter().zip(&m2).all(|(a, b)| a.to_bits() == b.to_bits()));
            let (mut x1, mut x2) = (x.clone(), x.clone());
            scale_channels_ref(&mut x1, hw, c, &s);
            scale_channels(&Team::solo(), Out::new(&mut x2), hw, c, &s);
            assert!(x1.iter().zip(&x2).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}
