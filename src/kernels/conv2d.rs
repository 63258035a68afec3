//! Dense k x k convolution (the stem: 3 input channels, stride 2) as im2col + the pointwise GEMM.
//! The stem is ~2% of the network's MACs, so reusing the tuned GEMM beats a dedicated kernel.

use super::activation::Act;
use super::geometry::ConvGeometry;
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

/// Fast path: gather patches into `cols` (resized as needed, reused across calls), then GEMM.
/// Padding taps contribute `0 * w`, which leaves every finite sum unchanged.
pub fn conv2d(input: &[f32], g: &ConvGeometry, cin: usize, w: &PackedPointwise, act: Act, cols: &mut Vec<f32>, out: &mut [f32]) {
    let k = g.k;
    let kk = k * k * cin;
    assert_eq!(w.k, kk, "conv2d: packed weights do not match the geometry");
    assert!(input.len() >= g.in_h * g.in_w * cin, "conv2d: input too short");
    let m = g.out_h * g.out_w;
    cols.clear();
    cols.resize(m * kk, 0.0);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let row = &mut cols[(oy * g.out_w + ox) * kk..][..kk];
            for ky in 0..k {
                let Some(y) = g.in_y(oy, ky) else { continue };
                for kx in 0..k {
                    let Some(x) = g.in_x(ox, kx) else { continue };
                    let src = &input[(y * g.in_w + x) * cin..][..cin];
                    row[(ky * k + kx) * cin..][..cin].copy_from_slice(src);
                }
            }
        }
    }
    pointwise(cols, m, w, act, None, out);
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
                let mut cols = Vec::new();
                conv2d(&input, &g, cin, &pack_conv2d(&w, &b, n, cin, k), Act::HardSwish, &mut cols, &mut got);
                for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                    assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{h}x{w_} {pad:?} at {i}: {x} vs {y}");
                }
            }
        }
    }
}
