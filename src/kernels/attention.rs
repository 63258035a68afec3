//! Multi-query attention (MobileNetV4 hybrids): every query head attends over one key/value set
//! shared by all heads. The query projection's NHWC output [L pixels][heads * d] is read as
//! [L * heads][d] (one row per pixel and head), keys as [P][d], values as [P][dv]:
//!
//!   out = softmax(Q K^T / sqrt(d)) V,   [L * heads][dv] = [L][heads * dv]
//!
//! which is already the NHWC input of the output projection. Rows are independent: a task
//! takes a block of rows through both products and the softmax in between, so the result is
//! bit-identical for any thread count.

use super::activation::{exp, exp4};
use super::parallel::{Out, Team};
use super::simd::F32x4;

/// Sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnDims {
    /// Query rows: pixels x heads.
    pub rows: usize,
    pub key_dim: usize,
    /// Key/value positions.
    pub kv_len: usize,
    pub value_dim: usize,
}

/// Plain reference: `q` [rows][d], `k` [P][d], `v` [P][dv], `out` [rows][dv].
pub fn attention_ref(q: &[f32], k: &[f32], v: &[f32], dims: AttnDims, out: &mut [f32]) {
    let AttnDims { rows, key_dim: d, kv_len: p, value_dim: dv } = dims;
    let scale = 1.0 / (d as f32).sqrt();
    let mut s = vec![0f32; p];
    for r in 0..rows {
        for (j, sj) in s.iter_mut().enumerate() {
            *sj = (0..d).fold(0.0, |acc, i| acc + q[r * d + i] * k[j * d + i]) * scale;
        }
        let max = s.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        s.iter_mut().for_each(|x| *x = exp(*x - max));
        let inv = 1.0 / s.iter().sum::<f32>();
        for c in 0..dv {
            out[r * dv + c] = (0..p).fold(0.0, |acc, j| acc + s[j] * inv * v[j * dv + c]);
        }
    }
}

/// Rows per task (a multiple of the 4-row micro-kernel).
const TASK_ROWS: usize = 16;
/// Columns per micro-kernel tile (two vectors).
const NC: usize = 8;

/// Key positions padded to whole tiles.
fn kv_pad(kv_len: usize) -> usize {
    kv_len.div_ceil(NC) * NC
}

/// Floats of scratch [`attention`] needs: K transposed, plus one score block per team member.
pub fn scratch_len(dims: AttnDims, threads: usize) -> usize {
    kv_pad(dims.kv_len) * (dims.key_dim + threads.max(1) * TASK_ROWS)
}

/// Fast path, two team stages: K is transposed into `scratch` (padded to whole tiles with zero
/// keys), then tasks of `TASK_ROWS` rows compute scores, softmax and the value product.
pub fn attention(team: &Team, q: &[f32], k: &[f32], v: &[f32], dims: AttnDims, scratch: Out, out: Out) {
    let AttnDims { rows, key_dim: d, kv_len: p, value_dim: dv } = dims;
    let pp = kv_pad(p);
    assert!(q.len() >= rows * d && k.len() >= p * d && v.len() >= p * dv, "attention: inputs too short");
    assert!(out.len >= rows * dv, "attention: output too short");
    assert!(scratch.len >= scratch_len(dims, team.size), "attention: scratch too short");
    assert!(team.index < team.size);
    let kt = scratch.ptr();
    // Stage 1: K^T [d][pp], by blocks of d rows.
    let d_per = 8;
    team.stage(d.div_ceil(d_per), |t| {
        for i in t * d_per..((t + 1) * d_per).min(d) {
            // SAFETY: task t writes rows [t*d_per, ..) of K^T only; i < d, j < pp.
            unsafe {
                let row = kt.add(i * pp);
                for j in 0..p {
                    *row.add(j) = k[j * d + i];
                }
                for j in p..pp {
                    *row.add(j) = 0.0;
                }
            }
        }
    });
    let scale = 1.0 / (d as f32).sqrt();
    let index = team.index;
    team.stage(rows.div_ceil(TASK_ROWS), |t| {
        let r0 = t * TASK_ROWS;
        let r1 = (r0 + TASK_ROWS).min(rows);
        // SAFETY: each member uses its own score block (indexed by its team index) and one task
        // at a time; task t writes output rows [r0, r1) only; sizes asserted above.
        unsafe {
            let s = kt.add(d * pp + index * TASK_ROWS * pp);
            let kt: *const f32 = kt;
            let q = q.as_ptr().add(r0 * d);
            let n = r1 - r0;
            // Scores: [n][pp] = (Q K^T) * scale.
            tiles(q, d, kt, pp, d, s, pp, n, pp, scale);
            for r in 0..n {
                softmax_row(s.add(r * pp), p);
            }
            // Output: [n][dv] = S V (the padded score columns are not read).
            tiles(s, pp, v.as_ptr(), dv, p, out.ptr().add(r0 * dv), dv, n, dv, 1.0);
        }
    });
}

/// c[n][cols] = (a[n][kk] . b[kk][cols]) * scale, all row-major with the given strides; every
/// element sums its kk products in order from 0.
#[allow(clippy::too_many_arguments)]
unsafe fn tiles(a: *const f32, lda: usize, b: *const f32, ldb: usize, kk: usize, c: *mut f32, ldc: usize, n: usize, cols: usize, scale: f32) {
    let mut j = 0;
    while j + NC <= cols {
        let mut r = 0;
        while r + 4 <= n {
            tile::<4>(a.add(r * lda), lda, b.add(j), ldb, kk, c.add(r * ldc + j), ldc, scale);
            r += 4;
        }
        while r < n {
            tile::<1>(a.add(r * lda), lda, b.add(j), ldb, kk, c.add(r * ldc + j), ldc, scale);
            r += 1;
        }
        j += NC;
    }
    // Columns beyond whole tiles (value dims that are not a multiple of 8).
    for r in 0..n {
        for jj in j..cols {
            let mut acc = 0.0;
            for i in 0..kk {
                acc += *a.add(r * lda + i) * *b.add(i * ldb + jj);
            }
            *c.add(r * ldc + jj) = acc * scale;
        }
    }
}

/// R rows x 8 columns of [`tiles`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<const R: usize>(a: *const f32, lda: usize, b: *const f32, ldb: usize, kk: usize, c: *mut f32, ldc: usize, scale: f32) {
    let mut acc = [[F32x4::splat(0.0); 2]; R];
    for i in 0..kk {
        let b0 = F32x4::load(b.add(i * ldb));
        let b1 = F32x4::load(b.add(i * ldb + 4));
        for (r, row) in acc.iter_mut().enumerate() {
            let av = F32x4::load_splat(a.add(r * lda + i));
            row[0] = row[0].mul_add(av, b0);
            row[1] = row[1].mul_add(av, b1);
        }
    }
    let sc = F32x4::splat(scale);
    for (r, row) in acc.iter().enumerate() {
        row[0].mul(sc).store(c.add(r * ldc));
        row[1].mul(sc).store(c.add(r * ldc + 4));
    }
}

/// In place over `p` scores: exp(x - max) / sum, as exp(x - max) * (1 / sum).
unsafe fn softmax_row(s: *mut f32, p: usize) {
    let p4 = p / 4 * 4;
    let mut m = F32x4::splat(f32::NEG_INFINITY);
    let mut i = 0;
    while i < p4 {
        m = m.max(F32x4::load(s.add(i)));
        i += 4;
    }
    let mut max = m.lane::<0>().max(m.lane::<1>()).max(m.lane::<2>()).max(m.lane::<3>());
    for j in p4..p {
        max = max.max(*s.add(j));
    }
    let mv = F32x4::splat(max);
    let mut sum4 = F32x4::splat(0.0);
    i = 0;
    while i < p4 {
        let e = exp4(F32x4::load(s.add(i)).sub(mv));
        e.store(s.add(i));
        sum4 = sum4.add(e);
        i += 4;
    }
    let mut sum = (sum4.lane::<0>() + sum4.lane::<1>()) + (sum4.lane::<2>() + sum4.lane::<3>());
    for j in p4..p {
        let e = exp(*s.add(j) - max);
        *s.add(j) = e;
        sum += e;
    }
    let inv = F32x4::splat(1.0 / sum);
    i = 0;
    while i < p4 {
        F32x4::load(s.add(i)).mul(inv).store(s.add(i));
        i += 4;
    }
    for j in p4..p {
        *s.add(j) *= 1.0 / sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Lcg;

    fn run(dims: AttnDims, threads: usize) -> (Vec<f32>, Vec<f32>) {
        let AttnDims { rows, key_dim: d, kv_len: p, value_dim: dv } = dims;
        let mut g = Lcg::new((rows * 7 + d * 3 + p) as u64);
        // Scores of a few units: a peaked but not one-hot softmax.
        let (q, k, v) = (g.vec(rows * d, 2.0), g.vec(p * d, 2.0), g.vec(p * dv, 1.0));
        let mut want = vec![0f32; rows * dv];
        attention_ref(&q, &k, &v, dims, &mut want);
        let mut got = vec![f32::NAN; rows * dv];
        let mut scratch = vec![f32::NAN; scratch_len(dims, threads)];
        let (o, sc) = (Out::new(&mut got), Out::new(&mut scratch));
        crate::testutil::run_with_threads(threads, |team| attention(team, &q, &k, &v, dims, sc, o));
        (got, want)
    }

    /// The fast path sums the softmax denominator in four lanes and may fuse multiply-adds:
    /// within a few ulp of the outputs' scale, not bit for bit.
    #[test]
    fn fast_equals_reference() {
        for &(rows, d, p, dv) in &[(1, 4, 1, 4), (5, 8, 3, 8), (16, 64, 64, 64), (37, 48, 13, 48), (64, 16, 36, 20), (256, 64, 64, 64), (3, 5, 9, 7)] {
            let dims = AttnDims { rows, key_dim: d, kv_len: p, value_dim: dv };
            let (got, want) = run(dims, 1);
            for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                assert!((x - y).abs() <= 2e-6 * (1.0 + y.abs()), "{dims:?} at {i}: {x} vs {y}");
            }
        }
    }

    #[cfg(not(target_family = "wasm"))] // no threads under WASI
    #[test]
    fn thread_count_does_not_change_results() {
        let dims = AttnDims { rows: 4 * 81, key_dim: 64, kv_len: 25, value_dim: 64 };
        let one = run(dims, 1).0;
        for t in [2, 3] {
            assert!(one.iter().zip(run(dims, t).0).all(|(a, b)| a.to_bits() == b.to_bits()), "threads={t}");
        }
    }
}
