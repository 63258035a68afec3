//! Dense k x k convolution (the stem: 3 input channels, stride 2) as im2col + the pointwise GEMM.
//! The stem is ~2% of the network's MACs, so reusing the tuned GEMM beats a dedicated kernel.

use super::activation::Act;
use super::geometry::ConvGeometry;
use super::parallel::{chunk_size, Out, Team};
use super::pointwise::{pointwise, PackedPointwise};

/// Plain reference. `w` is PyTorch's [N][Cin][k][k]; input [H][W][Cin], output [OH][OW][N].
/// Accumulates in (ky, kx, ci) order, the same order as the im2col path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_ref(input: &[f32], g: &ConvGeometry, cin: usize, w: &[f32], bias: &[f32], n: usize, act: Act, out: &mut [f32]) {
    let k = g.k;
    assert!(w.len() == n * cin * k * k && bias.len() == n);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for co in 0..n {
                let mut acc = bias[co];
                for ky in 0..k {
                    for kx in 0..k {
                        if let (Some(y), Some(x)) = (g.in_y(oy, ky), g.in_x(ox, kx)) {
                            for ci in 0..cin {
                                acc += input[(y * g.in_w + x) * cin + ci] * w[((co * cin + ci) * k + ky) * k + kx];
                            }
                        }
                    }
                }
                out[(oy * g.out_w + ox) * n + co] = act.apply(acc);
            }
        }
    }
}

/// Re-lay PyTorch [N][Cin][k][k] weights as the GEMM's [N][(ky*k + kx)*Cin + ci] and pack them.
pub fn pack_conv2d(w: &[f32], bias: &[f32], n: usize, cin: usize, k: usize) -> PackedPointwise {
    let kk = k * k * cin;
    let mut flat = vec![0f32; n * kk];
    for co in 0..n {
        for ci in 0..cin {
            for t in 0..k * k {
                flat[co * kk + t * cin + ci] = w[(co * cin + ci) * k * k + t];
            }
        }
    }
    PackedPointwise::new(&flat, bias, kk, n)
}

/// Fast path: gather patches into `cols` (a buffer of at least OH*OW*k*k*Cin floats), then
/// GEMM; two stages of `team`. Padding taps contribute `0 * w`, which leaves sums unchanged.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(team: &Team, input: &[f32], g: &ConvGeometry, cin: usize, w: &PackedPointwise, act: Act, cols: Out, out: Out) {
    let k = g.k;
    let kk = k * k * cin;
    assert_eq!(w.k, kk, "conv2d: packed weights do not match the geometry");
    assert!(input.len() >= g.in_h * g.in_w * cin, "conv2d: input too short");
    let m = g.out_h * g.out_w;
    assert!(cols.len >= m * kk, "conv2d: column buffer too short");
    let rows_per_task = chunk_size(g.out_h, team.size * 2, 1);
    team.stage(g.out_h.div_ceil(rows_per_task), |t| {
        let y0 = t * rows_per_task;
        for oy in y0..(y0 + rows_per_task).min(g.out_h) {
            // SAFETY: task t owns the column rows of output rows [y0, y1).
            let dst = unsafe { std::slice::from_raw_parts_mut(cols.ptr().add(oy * g.out_w * kk), g.out_w * kk) };
            for ox in 0..g.out_w {
                let row = &mut dst[ox * kk..][..kk];
                for ky in 0..k {
                    for kx in 0..k {
                        let patch = &mut row[(ky * k + kx) * cin..][..cin];
                        match (g.in_y(oy, ky), g.in_x(ox, kx)) {
                            (Some(y), Some(x)) => patch.copy_from_slice(&input[(y * g.in_w + x) * cin..][..cin]),
                            _ => patch.fill(0.0),
                        }
                    }
                }
            }
        }
    });
    // SAFETY: the gather stage is complete (stage barrier) and nothing writes `cols` now.
    let a = unsafe { std::slice::from_raw_parts(cols.ptr(), m * kk) };
    pointwise(team, a, m, w, act, None, out);
}

#[cfg(test)]
mod tests {
    use super::super::geometry::Padding;
    use super::*;
    use crate::testutil::Lcg;

    #[test]
    fn fast_matches_reference() {
        for pad in [Padding::Symmetric, Padding::TfSame] {
            for &(h, w_, cin, n, k, s) in &[(9, 7, 3, 16, 3, 2), (224, 224, 3, 16, 3, 2), (5, 5, 2, 5, 3, 1), (6, 11, 3, 24, 3, 2)] {
                let g = ConvGeometry::new(h, w_, k, s, pad);
                let mut rng = Lcg::new((h * w_ + n) as u64);
                let input = rng.vec(h * w_ * cin, 1.0);
                let w = rng.vec(n * cin * k * k, 0.5);
                let b = rng.vec(n, 0.5);
                let mut want = vec![0f32; g.out_h * g.out_w * n];
                conv2d_ref(&input, &g, cin, &w, &b, n, Act::HardSwish, &mut want);
                let mut got = vec![0f32; want.len()];
                let mut cols = vec![f32::NAN; g.out_h * g.out_w * k * k * cin];
                conv2d(&Team::solo(), &input, &g, cin, &pack_conv2d(&w, &b, n, cin, k), Act::HardSwish, Out::new(&mut cols), Out::new(&mut got));
                for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                    assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{h}x{w_} {pad:?} at {i}: {x} vs {y}");
                }
            }
        }
    }
}
