//! Depthwise k x k convolution (stride 1 or 2, symmetric or TF-same padding) in NHWC, fused with
//! bias and activation.
//!
//! Fast path: for each output pixel the k*k tap pointers are resolved once (taps in the padding
//! point at a zero row), then channels are swept 16, 4, then 1 at a time with independent
//! accumulators. Each output is `bias + sum over taps in (ky, kx) order`, as in the reference.

use super::activation::Act;
use super::geometry::ConvGeometry;
use super::parallel::{chunk_size, Out, Team};
use super::simd::F32x4;

/// Plain reference. `w` is PyTorch's [C][1][k][k] layout; input [H][W][C], output [OH][OW][C].
pub fn depthwise_ref(input: &[f32], g: &ConvGeometry, c: usize, w: &[f32], bias: &[f32], act: Act, out: &mut [f32]) {
    let k = g.k;
    assert!(input.len() >= g.in_h * g.in_w * c && w.len() == c * k * k && bias.len() == c);
    assert!(out.len() >= g.out_h * g.out_w * c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            for ch in 0..c {
                let mut acc = bias[ch];
                for ky in 0..k {
                    for kx in 0..k {
                        if let (Some(y), Some(x)) = (g.in_y(oy, ky), g.in_x(ox, kx)) {
                            acc += input[(y * g.in_w + x) * c + ch] * w[(ch * k + ky) * k + kx];
                        }
                    }
                }
                out[(oy * g.out_w + ox) * c + ch] = act.apply(acc);
            }
        }
    }
}

/// Depthwise weights re-laid as [k*k][C] so a tap's weights for consecutive channels are contiguous.
#[derive(Clone, Debug)]
pub struct PackedDepthwise {
    pub c: usize,
    pub k: usize,
    taps: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedDepthwise {
    pub fn new(w: &[f32], bias: &[f32], c: usize, k: usize) -> Self {
        assert_eq!(w.len(), c * k * k);
        assert_eq!(bias.len(), c);
        let mut taps = vec![0f32; k * k * c];
        for ch in 0..c {
            for t in 0..k * k {
                taps[t * c + ch] = w[ch * k * k + t];
            }
        }
        PackedDepthwise { c, k, taps, bias: bias.to_vec() }
    }

    pub fn bytes(&self) -> usize {
        (self.taps.len() + self.bias.len()) * 4
    }
}

const MAX_TAPS: usize = 49; // up to 7x7

/// Fast path. Input [H][W][C] -> output [OH][OW][C], as one stage of `team`. `zeros` is a row
/// of at least C zeros that taps in the padding read from.
pub fn depthwise(team: &Team, input: &[f32], g: &ConvGeometry, w: &PackedDepthwise, act: Act, zeros: &[f32], out: Out) {
    let c = w.c;
    assert_eq!(g.k, w.k, "depthwise: kernel size mismatch");
    assert!(g.k * g.k <= MAX_TAPS, "depthwise: kernel too large");
    assert!(input.len() >= g.in_h * g.in_w * c, "depthwise: input too short");
    assert!(out.len >= g.out_h * g.out_w * c, "depthwise: output too short");
    assert!(zeros.len() >= c && zeros.iter().all(|&z| z == 0.0), "depthwise: zero row too short");
    let rows_per_task = chunk_size(g.out_h, team.size * 3, 1);
    team.stage(g.out_h.div_ceil(rows_per_task), |t| {
        let y0 = t * rows_per_task;
        let y1 = (y0 + rows_per_task).min(g.out_h);
        // SAFETY: each task writes output rows [y0, y1) only; tap pointers are either inside
        // `input` (checked by the geometry) or the zero row of length c.
        unsafe { depthwise_rows(input.as_ptr(), zeros.as_ptr(), g, w, act, out.ptr(), y0, y1) };
    });
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn depthwise_rows(
    input: *const f32,
    zeros: *const f32,
    g: &ConvGeometry,
    w: &PackedDepthwise,
    act: Act,
    out: *mut f32,
    y0: usize,
    y1: usize,
) {
    let (c, k) = (w.c, g.k);
    let nt = k * k;
    let mut taps = [zeros; MAX_TAPS];
    let wt = w.taps.as_ptr();
    let bias = w.bias.as_ptr();
    for oy in y0..y1 {
        for ox in 0..g.out_w {
            for ky in 0..k {
                for kx in 0..k {
                    taps[ky * k + kx] = match (g.in_y(oy, ky), g.in_x(ox, kx)) {
                        (Some(y), Some(x)) => input.add((y * g.in_w + x) * c),
                        _ => zeros,
                    };
                }
            }
            let o = out.add((oy * g.out_w + ox) * c);
            let mut ch = 0;
            while ch + 16 <= c {
                let mut a0 = F32x4::load(bias.add(ch));
                let mut a1 = F32x4::load(bias.add(ch + 4));
                let mut a2 = F32x4::load(bias.add(ch + 8));
                let mut a3 = F32x4::load(bias.add(ch + 12));
                for (t, &ip) in taps.iter().enumerate().take(nt) {
                    let wp = wt.add(t * c + ch);
                    let ip = ip.add(ch);
                    a0 = a0.add(F32x4::load(ip).mul(F32x4::load(wp)));
                    a1 = a1.add(F32x4::load(ip.add(4)).mul(F32x4::load(wp.add(4))));
                    a2 = a2.add(F32x4::load(ip.add(8)).mul(F32x4::load(wp.add(8))));
                    a3 = a3.add(F32x4::load(ip.add(12)).mul(F32x4::load(wp.add(12))));
                }
                act.apply4(a0).store(o.add(ch));
                act.apply4(a1).store(o.add(ch + 4));
                act.apply4(a2).store(o.add(ch + 8));
                act.apply4(a3).store(o.add(ch + 12));
                ch += 16;
            }
            while ch + 4 <= c {
                let mut a0 = F32x4::load(bias.add(ch));
                for (t, &ip) in taps.iter().enumerate().take(nt) {
                    a0 = a0.add(F32x4::load(ip.add(ch)).mul(F32x4::load(wt.add(t * c + ch))));
                }
                act.apply4(a0).store(o.add(ch));
                ch += 4;
            }
            while ch < c {
                let mut acc = *bias.add(ch);
                for (t, &ip) in taps.iter().enumerate().take(nt) {
                    acc += *ip.add(ch) * *wt.add(t * c + ch);
                }
                *o.add(ch) = act.apply(acc);
                ch += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::Padding;
    use super::*;
    use crate::testutil::Lcg;

    fn check(h: usize, w_: usize, c: usize, k: usize, s: usize, pad: Padding, act: Act) {
        let g = ConvGeometry::new(h, w_, k, s, pad);
        let mut rng = Lcg::new((h * 31 + w_ * 7 + c * 3 + k + s) as u64);
        let input = rng.vec(h * w_ * c, 1.0);
        let w = rng.vec(c * k * k, 0.5);
        let b = rng.vec(c, 0.5);
        let mut want = vec![0f32; g.out_h * g.out_w * c];
        depthwise_ref(&input, &g, c, &w, &b, act, &mut want);
        let mut got = vec![f32::NAN; want.len()];
        depthwise(&Team::solo(), &input, &g, &PackedDepthwise::new(&w, &b, c, k), act, &vec![0.0; c], Out::new(&mut got));
        for (i, (x, y)) in got.iter().zip(&want).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "{h}x{w_}x{c} k{k} s{s} {pad:?} at {i}: {x} vs {y}");
        }
    }

    #[test]
    fn fast_equals_reference() {
        for pad in [Padding::Symmetric, Padding::TfSame] {
            for &(h, w, c) in &[(1, 1, 1), (2, 3, 5), (7, 7, 16), (9, 6, 21), (15, 15, 36), (14, 14, 67)] {
                for k in [3, 5] {
                    for s in [1, 2] {
                        check(h, w, c, k, s, pad, Act::HardSwish);
                    }
                }
            }
        }
        check(8, 8, 24, 3, 1, Padding::Symmetric, Act::Relu);
        check(8, 8, 24, 3, 2, Padding::TfSame, Act::Identity);
    }
}
