//! Squeeze-and-excite and global average pooling over NHWC activations.
//!
//! SE = mean over pixels -> 1x1 reduce + act -> 1x1 expand + hard-sigmoid -> per-channel scale.
//! Fast path in two team stages: the depthwise stage before it already left per-row channel
//! sums, so stage 1 finishes the mean and runs the reduce FC; stage 2 runs the expand FC and
//! scales its own channels of the activations. A plain reference sits beside it.

use super::activation::Act;
use super::parallel::{chunk_size, Out, Team};
use super::pointwise::{gemv_panels, PackedPointwise, NR};
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

/// Per-row channel sums of `x` ([rows][row_len][c]): sums[r][ch] over the row's pixels in
/// order. (The depthwise kernel produces the same values while it writes its output.)
pub fn row_sums_ref(x: &[f32], rows: usize, row_len: usize, c: usize, sums: &mut [f32]) {
    for r in 0..rows {
        for ch in 0..c {
            let mut s = 0f32;
            for p in 0..row_len {
                s += x[(r * row_len + p) * c + ch];
            }
            sums[r * c + ch] = s;
        }
    }
}

/// Sum channels [c0, c1) of one row of `n` pixels (stride c) into `out[c0..c1]`.
///
/// # Safety
/// `row` must hold `n * c` floats and `out` `c1` floats.
pub(crate) unsafe fn sum_row(row: *const f32, n: usize, c: usize, c0: usize, c1: usize, out: *mut f32) {
    let mut ch = c0;
    while ch + 4 <= c1 {
        let mut acc = F32x4::splat(0.0);
        for p in 0..n {
            acc = acc.add(F32x4::load(row.add(p * c + ch)));
        }
        acc.store(out.add(ch));
        ch += 4;
    }
    while ch < c1 {
        let mut acc = 0f32;
        for p in 0..n {
            acc += *row.add(p * c + ch);
        }
        *out.add(ch) = acc;
        ch += 1;
    }
}

impl SqueezeExcite {
    /// Scratch floats `apply` needs with `threads` team members.
    pub fn scratch_len(&self, threads: usize) -> usize {
        threads * self.expand.n + self.reduce.n + self.expand.n
    }

    /// Gate `x` ([hw][c], hw = rows * row pixels) in place, given its per-row channel sums
    /// ([rows][c]): two stages of `team` (three on larger maps with several threads).
    pub fn apply(&self, team: &Team, x: Out, hw: usize, row_sums: &[f32], rows: usize, scratch: Out) {
        let c = self.expand.n;
        let rd = self.reduce.n;
        assert!(x.len >= hw * c && row_sums.len() >= rows * c && rows > 0 && hw > 0);
        assert!(scratch.len >= self.scratch_len(team.size));
        // Scratch: one mean vector per member, then the hidden vector, then the gate.
        let p = scratch.ptr();
        let (hidden, gate) = unsafe { (p.add(team.size * c), p.add(team.size * c + rd)) };

        // Stage 1: every task needs the whole mean; each member builds its own copy once.
        let mean_built = std::cell::Cell::new(false);
        let np = self.reduce.num_panels();
        let per = chunk_size(np, team.size * 2, 1);
        team.stage(np.div_ceil(per), |t| {
            // SAFETY: member `team.index` owns its mean slot; task t writes hidden panels
            // [p0, p1) only.
            unsafe {
                let mean = p.add(team.index * c);
                if !mean_built.get() {
                    let m = std::slice::from_raw_parts_mut(mean, c);
                    m.copy_from_slice(&row_sums[..c]);
                    for r in 1..rows {
                        for (mc, &s) in m.iter_mut().zip(&row_sums[r * c..(r + 1) * c]) {
                            *mc += s;
                        }
                    }
                    let d = hw as f32;
                    m.iter_mut().for_each(|v| *v /= d);
                    mean_built.set(true);
                }
                gemv_panels(mean, &self.reduce, self.reduce_act, hidden, t * per, ((t + 1) * per).min(np));
            }
        });

        // Stage 2: gate values for a group of channels. On small maps the same task then scales
        // those channels of every pixel. On larger maps a third stage scales by pixel rows
        // instead, the split the depthwise stage wrote them with, so each member rescales rows
        // still in its own cache (a channel split would pull every row across cores).
        let by_rows = team.size > 1 && hw >= 196;
        let np = self.expand.num_panels();
        let per = chunk_size(np, team.size * 2, 1);
        team.stage(np.div_ceil(per), |t| {
            let (p0, p1) = (t * per, ((t + 1) * per).min(np));
            // SAFETY: task t writes gate[c0..c1) (and channels [c0, c1) of x) only; `hidden`
            // was completed by stage 1.
            unsafe {
                gemv_panels(hidden, &self.expand, Act::HardSigmoid, gate, p0, p1);
                if !by_rows {
                    scale_columns(x.ptr(), hw, c, p0 * NR, (p1 * NR).min(c), gate);
                }
            }
        });
        if by_rows {
            // SAFETY: stage 2 completed the gate.
            scale_channels(team, x, hw, c, unsafe { std::slice::from_raw_parts(gate, c) });
        }
    }
}

/// x[p][c0..c1] *= gate[c0..c1] for every pixel p.
///
/// # Safety
/// `x` must hold `hw * c` floats and `gate` at least `c1`.
unsafe fn scale_columns(x: *mut f32, hw: usize, c: usize, c0: usize, c1: usize, gate: *const f32) {
    for px in 0..hw {
        let row = x.add(px * c);
        let mut ch = c0;
        while ch + 4 <= c1 {
            F32x4::load(row.add(ch)).mul(F32x4::load(gate.add(ch))).store(row.add(ch));
            ch += 4;
        }
        while ch < c1 {
            *row.add(ch) *= *gate.add(ch);
            ch += 1;
        }
    }
}

/// Reference squeeze-excite in place (mean, FC + act, FC + hard-sigmoid, scale), weights in
/// PyTorch layout: `w1` [rd][c], `w2` [c][rd].
#[allow(clippy::too_many_arguments)]
pub fn squeeze_excite_ref(x: &mut [f32], hw: usize, c: usize, w1: &[f32], b1: &[f32], act: Act, w2: &[f32], b2: &[f32]) {
    let rd = b1.len();
    let mut mean = vec![0f32; c];
    channel_mean_ref(x, hw, c, &mut mean);
    let hidden: Vec<f32> = (0..rd).map(|j| act.apply(b1[j] + (0..c).map(|k| mean[k] * w1[j * c + k]).fold(0.0, |a, v| a + v))).collect();
    let gate: Vec<f32> = (0..c).map(|j| Act::HardSigmoid.apply(b2[j] + (0..rd).map(|k| hidden[k] * w2[j * rd + k]).fold(0.0, |a, v| a + v))).collect();
    scale_channels_ref(x, hw, c, &gate);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run_with_threads, Lcg};

    /// The two-stage fast path (with row sums as the depthwise kernel leaves them) against the
    /// reference, on 1 and 3 threads. Sums are grouped by rows in the fast path, so compare
    /// with a tolerance.
    #[test]
    fn squeeze_excite_matches_reference() {
        for &(rows, row_len, c, rd) in &[(7, 7, 960, 240), (28, 28, 72, 24), (14, 14, 37, 9), (3, 5, 13, 5), (1, 1, 16, 8)] {
            let hw = rows * row_len;
            let mut g = Lcg::new((hw * c + rd) as u64);
            let x = g.vec(hw * c, 2.0);
            let (w1, b1, w2, b2) = (g.vec(rd * c, 0.3), g.vec(rd, 0.3), g.vec(c * rd, 0.3), g.vec(c, 0.3));
            let mut want = x.clone();
            squeeze_excite_ref(&mut want, hw, c, &w1, &b1, Act::Relu, &w2, &b2);
            let se = SqueezeExcite { reduce: PackedPointwise::new(&w1, &b1, c, rd), reduce_act: Act::Relu, expand: PackedPointwise::new(&w2, &b2, rd, c) };
            let mut sums = vec![0f32; rows * c];
            row_sums_ref(&x, rows, row_len, c, &mut sums);
            for threads in [1, 3] {
                let mut got = x.clone();
                let mut scratch = vec![0f32; se.scratch_len(threads)];
                let (o, s) = (Out::new(&mut got), Out::new(&mut scratch));
                run_with_threads(threads, |team| se.apply(team, o, hw, &sums, rows, s));
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{rows}x{row_len}x{c} threads {threads} at {i}: {a} vs {b}");
                }
            }
        }
    }

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
