//! Dense k x k convolution (the stem: 3 input channels, stride 2).
//!
//! Fast path: the input is copied once into a zero-padded buffer, so no tap needs a bounds
//! check; then a GEMM-style micro-kernel (4 output pixels x 8 output channels) runs over the
//! weights packed like a 1x1 conv with K = k*k*Cin in (ky, kx, ci) order. For a fixed ky the
//! (kx, ci) taps of a pixel are contiguous in the padded row, so the kernel reads its "A
//! matrix" straight from the image instead of from an im2col copy.

use super::activation::Act;
use super::geometry::ConvGeometry;
use super::parallel::{chunk_size, Out, Team};
use super::pointwise::{PackedPointwise, NR};
use super::simd::F32x4;

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

/// Size of the padded input buffer `conv2d` needs for geometry `g` and `cin` channels.
pub fn padded_len(g: &ConvGeometry, cin: usize) -> usize {
    let (hp, wp) = padded_dims(g);
    hp * wp * cin
}

fn padded_dims(g: &ConvGeometry) -> (usize, usize) {
    ((g.out_h - 1) * g.stride + g.k, (g.out_w - 1) * g.stride + g.k)
}

/// Output pixels per micro-kernel call.
const PX: usize = 4;

/// Fast path, two stages of `team`: zero-pad the input into `padded` (at least
/// `padded_len(g, cin)` floats), then convolve. Padding taps contribute `0 * w`, which leaves
/// every sum unchanged.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(team: &Team, input: &[f32], g: &ConvGeometry, cin: usize, w: &PackedPointwise, act: Act, padded: Out, out: Out) {
    let k = g.k;
    assert_eq!(w.k, k * k * cin, "conv2d: packed weights do not match the geometry");
    assert!(input.len() >= g.in_h * g.in_w * cin, "conv2d: input too short");
    assert!(out.len >= g.out_h * g.out_w * w.n, "conv2d: output too short");
    let (hp, wp) = padded_dims(g);
    assert!(padded.len >= hp * wp * cin, "conv2d: padded buffer too short");
    let rows = chunk_size(hp, team.size * 2, 1);
    team.stage(hp.div_ceil(rows), |t| {
        for py in t * rows..((t + 1) * rows).min(hp) {
            // SAFETY: task t owns padded rows [t*rows, (t+1)*rows).
            let dst = unsafe { std::slice::from_raw_parts_mut(padded.ptr().add(py * wp * cin), wp * cin) };
            dst.fill(0.0);
            let Some(y) = py.checked_sub(g.pad_top).filter(|&y| y < g.in_h) else { continue };
            let x0 = g.pad_left.min(wp);
            let n = g.in_w.min(wp - x0);
            dst[x0 * cin..(x0 + n) * cin].copy_from_slice(&input[y * g.in_w * cin..(y * g.in_w + n) * cin]);
        }
    });
    // SAFETY: the padding stage is complete and nothing writes `padded` in the next stage.
    let src = unsafe { std::slice::from_raw_parts(padded.ptr() as *const f32, hp * wp * cin) };
    let rows = chunk_size(g.out_h, team.size * 3, 1);
    team.stage(g.out_h.div_ceil(rows), |t| {
        for oy in t * rows..((t + 1) * rows).min(g.out_h) {
            // SAFETY: task t writes output rows [t*rows, (t+1)*rows) only; reads stay within the
            // padded buffer (its size covers every tap of every output pixel).
            unsafe { conv_row(src.as_ptr(), wp, cin, g, w, act, out.ptr(), oy) };
        }
    });
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn conv_row(src: *const f32, wp: usize, cin: usize, g: &ConvGeometry, w: &PackedPointwise, act: Act, out: *mut f32, oy: usize) {
    let n = w.n;
    for p in 0..w.num_panels() {
        let cols = (n - p * NR).min(NR);
        let mut ox = 0;
        while ox + PX <= g.out_w {
            conv_micro::<PX>(src, wp, cin, g, w, p, act, out.add((oy * g.out_w + ox) * n + p * NR), n, cols, oy, ox);
            ox += PX;
        }
        while ox < g.out_w {
            conv_micro::<1>(src, wp, cin, g, w, p, act, out.add((oy * g.out_w + ox) * n + p * NR), n, cols, oy, ox);
            ox += 1;
        }
    }
}

/// R output pixels (along x) x 8 channels of panel `p`, accumulated in (ky, kx, ci) order.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn conv_micro<const R: usize>(
    src: *const f32,
    wp: usize,
    cin: usize,
    g: &ConvGeometry,
    w: &PackedPointwise,
    p: usize,
    act: Act,
    out: *mut f32,
    ldo: usize,
    cols: usize,
    oy: usize,
    ox: usize,
) {
    let (k, s) = (g.k, g.stride);
    let span = k * cin; // contiguous taps of one kernel row
    let bias = w.bias_ptr(p);
    let b0 = F32x4::load(bias);
    let b1 = F32x4::load(bias.add(4));
    let mut acc = [[b0, b1]; R];
    let mut wt = w.panel_ptr(p);
    for ky in 0..k {
        let row = src.add(((oy * s + ky) * wp + ox * s) * cin);
        for j in 0..span {
            let w0 = F32x4::load(wt);
            let w1 = F32x4::load(wt.add(4));
            for (r, a) in acc.iter_mut().enumerate() {
                let av = F32x4::load_splat(row.add(r * s * cin + j));
                a[0] = a[0].mul_add(av, w0);
                a[1] = a[1].mul_add(av, w1);
            }
            wt = wt.add(NR);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        super::pointwise::store_row(a, act, None, out.add(r * ldo), cols);
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::Padding;
    use super::*;
    use crate::testutil::Lcg;

    #[test]
    fn fast_matches_reference() {
        for pad in [Padding::Symmetric, Padding::TfSame] {
            for &(h, w_, cin, n, k, s) in &[(9, 7, 3, 16, 3, 2), (224, 224, 3, 16, 3, 2), (5, 5, 2, 5, 3, 1), (6, 11, 3, 24, 3, 2), (13, 10, 3, 16, 3, 2), (1, 1, 3, 8, 3, 2)] {
                let g = ConvGeometry::new(h, w_, k, s, pad);
                let mut rng = Lcg::new((h * w_ + n) as u64);
                let input = rng.vec(h * w_ * cin, 1.0);
                let w = rng.vec(n * cin * k * k, 0.5);
                let b = rng.vec(n, 0.5);
                let mut want = vec![0f32; g.out_h * g.out_w * n];
                conv2d_ref(&input, &g, cin, &w, &b, n, Act::HardSwish, &mut want);
                let mut got = vec![0f32; want.len()];
                let mut padded = vec![f32::NAN; padded_len(&g, cin)];
                conv2d(&Team::solo(), &input, &g, cin, &pack_conv2d(&w, &b, n, cin, k), Act::HardSwish, Out::new(&mut padded), Out::new(&mut got));
                crate::kernels::simd::assert_kernel_matches(&got, &want, cin * k * k, &format!("{h}x{w_} {pad:?}"));
            }
        }
    }
}
