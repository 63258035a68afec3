//! 2x2 average pooling with stride 2 (PyTorch `AvgPool2d(2)`: no padding, floor output size),
//! the anti-aliasing downsample of timm's `conv_aa` MobileNetV4 models. Each output is
//! ((x00 + x01) + x10) + x11 times 1/4, the order PyTorch sums in (1/4 is exact).

use super::parallel::{chunk_size, Out, Team};
use super::simd::F32x4;

/// Output size of a 2x2 stride-2 pool over `h` x `w`.
pub fn avg_pool2_size(h: usize, w: usize) -> (usize, usize) {
    (h / 2, w / 2)
}

/// Reference: `input` [h][w][c] -> `out` [h/2][w/2][c].
pub fn avg_pool2_ref(input: &[f32], h: usize, w: usize, c: usize, out: &mut [f32]) {
    let (oh, ow) = avg_pool2_size(h, w);
    for oy in 0..oh {
        for ox in 0..ow {
            for ch in 0..c {
                let at = |y: usize, x: usize| input[(y * w + x) * c + ch];
                let (y, x) = (2 * oy, 2 * ox);
                out[(oy * ow + ox) * c + ch] = (((at(y, x) + at(y, x + 1)) + at(y + 1, x)) + at(y + 1, x + 1)) * 0.25;
            }
        }
    }
}

/// Fast path, one stage of `team` split by output rows.
pub fn avg_pool2(team: &Team, input: &[f32], h: usize, w: usize, c: usize, out: Out) {
    let (oh, ow) = avg_pool2_size(h, w);
    assert!(input.len() >= h * w * c && out.len >= oh * ow * c, "avg_pool2: buffers too short");
    if oh == 0 || ow == 0 {
        return;
    }
    let rows = chunk_size(oh, team.size * 2, 1);
    team.stage(oh.div_ceil(rows), |t| {
        for oy in t * rows..((t + 1) * rows).min(oh) {
            // SAFETY: task t writes output rows [t*rows, (t+1)*rows) only; reads stay within the
            // two input rows 2*oy and 2*oy + 1 < h.
            unsafe {
                let r0 = input.as_ptr().add(2 * oy * w * c);
                let r1 = r0.add(w * c);
                let o = out.ptr().add(oy * ow * c);
                for ox in 0..ow {
                    let (a, b) = (r0.add(2 * ox * c), r1.add(2 * ox * c));
                    let d = o.add(ox * c);
                    let mut ch = 0;
                    while ch + 4 <= c {
                        let s = F32x4::load(a.add(ch)).add(F32x4::load(a.add(c + ch))).add(F32x4::load(b.add(ch))).add(F32x4::load(b.add(c + ch)));
                        s.mul(F32x4::splat(0.25)).store(d.add(ch));
                        ch += 4;
                    }
                    while ch < c {
                        *d.add(ch) = (((*a.add(ch) + *a.add(c + ch)) + *b.add(ch)) + *b.add(c + ch)) * 0.25;
                        ch += 1;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Lcg;

    #[test]
    fn fast_matches_reference() {
        for &(h, w, c) in &[(8, 8, 16), (7, 9, 5), (1, 4, 3), (2, 2, 1), (15, 13, 37)] {
            let mut rng = Lcg::new((h * w * c) as u64);
            let input = rng.vec(h * w * c, 2.0);
            let (oh, ow) = avg_pool2_size(h, w);
            let mut want = vec![0f32; oh * ow * c];
            avg_pool2_ref(&input, h, w, c, &mut want);
            for threads in [1, 3] {
                let mut got = vec![f32::NAN; want.len()];
                let o = Out::new(&mut got);
                crate::testutil::run_with_threads(threads, |team| avg_pool2(team, &input, h, w, c, o));
                for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(x.to_bits(), y.to_bits(), "{h}x{w}x{c} at {i}");
                }
            }
        }
        // 2x2 of 1, 2, 3, 4 averages to 2.5.
        let mut out = [0f32];
        avg_pool2_ref(&[1.0, 2.0, 3.0, 4.0], 2, 2, 1, &mut out);
        assert_eq!(out[0], 2.5);
    }
}
