//! Depthwise k x k convolution (stride 1 or 2, symmetric or TF-same padding) in NHWC, fused with
//! bias and activation.
//!
//! Fast path, per output row: the k input rows are resolved once (rows in the padding point at a
//! zero row). Interior pixels, whose taps are all inside the image, run 8 at a time x 4 channels
//! with each weight load shared by the 8 pixels and no bounds checks (k = 3 and 5 unrolled);
//! the few border pixels resolve per-tap pointers (columns in the padding read zeros). Each
//! output is `bias + sum over taps in (ky, kx) order`, as in the reference.

use super::activation::Act;
use super::geometry::ConvGeometry;
use super::parallel::{chunk_size, Out, Team};
use super::simd::F32x4;
use super::squeeze_excite::sum_row;

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

/// Zeros `depthwise` needs for geometry `g` and `c` channels (one padded input row).
pub fn zeros_len(g: &ConvGeometry, c: usize) -> usize {
    g.in_w * c
}

/// Fast path. Input [H][W][C] -> output [OH][OW][C], as one stage of `team`. `zeros` holds at
/// least `zeros_len(g, C)` zeros, read by taps that fall in the padding. With `row_sums`
/// ([OH][C]) it also leaves each output row's channel sums (for a squeeze-excite that follows).
#[allow(clippy::too_many_arguments)]
pub fn depthwise(team: &Team, input: &[f32], g: &ConvGeometry, w: &PackedDepthwise, act: Act, zeros: &[f32], out: Out, row_sums: Option<Out>) {
    let c = w.c;
    assert_eq!(g.k, w.k, "depthwise: kernel size mismatch");
    assert!(g.k * g.k <= MAX_TAPS, "depthwise: kernel too large");
    assert!(input.len() >= g.in_h * g.in_w * c, "depthwise: input too short");
    assert!(out.len >= g.out_h * g.out_w * c, "depthwise: output too short");
    if let Some(rs) = row_sums {
        assert!(rs.len >= g.out_h * c, "depthwise: row sums too short");
    }
    assert!(zeros.len() >= zeros_len(g, c), "depthwise: zero row too short");
    debug_assert!(zeros.iter().all(|&z| z == 0.0), "depthwise: zero row is not zero");
    // Tasks: row bands, and channel groups too when there are few rows (14x14, 7x7 layers),
    // so every member gets several similar tasks.
    let want = if team.size == 1 { 1 } else { team.size * 4 };
    let rows_per_task = chunk_size(g.out_h, want, 1);
    let row_tasks = g.out_h.div_ceil(rows_per_task);
    let chans_per_task = chunk_size(c, want.div_ceil(row_tasks), 8);
    let chan_tasks = c.div_ceil(chans_per_task);
    team.stage(row_tasks * chan_tasks, |t| {
        let (rt, ct) = (t / chan_tasks, t % chan_tasks);
        let y0 = rt * rows_per_task;
        let y1 = (y0 + rows_per_task).min(g.out_h);
        let c0 = ct * chans_per_task;
        let cs = (c0, (c0 + chans_per_task).min(c));
        // SAFETY: each task writes output rows [y0, y1) x channels [c0, c1) only (and the same
        // cells of `row_sums`); every tap pointer is inside `input` (checked by the geometry)
        // or inside the zero row.
        unsafe {
            let job = Rows { input: input.as_ptr(), zeros: zeros.as_ptr(), g, w, act, out: out.ptr(), rows: y0..y1, cs };
            rows_dispatch(&job, DepthwiseVariant::DEFAULT);
            if let Some(rs) = row_sums {
                for oy in y0..y1 {
                    sum_row(out.ptr().add(oy * g.out_w * c), g.out_w, c, cs.0, cs.1, rs.ptr().add(oy * c));
                }
            }
        }
    });
}

/// Interior loops of the depthwise kernel (same products, same tap order: bit-identical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthwiseVariant {
    /// Every pixel loads each of its taps' inputs.
    TapLoads,
    /// Stride 1: a sliding window along the row; each input vector is loaded once per kernel row
    /// and feeds every pixel whose window covers it (P + K - 1 loads instead of P * K). Stride 2
    /// keeps `TapLoads` (measured slower there: the unrolled window no longer fits).
    Sliding,
    /// `Sliding`, and stride-1 rows too short for an 8-pixel interior block (7x7 maps: mostly
    /// edge pixels) in clipped runs of up to 8 pixels that share each weight load, skipping the
    /// taps in the padding: 7x7x960 k5 1.4-1.9x faster in every engine. (Runs at the edges of
    /// longer rows, and at stride 2, measured slower than the per-pixel edges.)
    SlidingRuns,
    /// `SlidingRuns`, and stride 2 slides too, as a loop over the pixels that loads each one's two
    /// new input columns (`interior_pairs`): 8-15% faster than `TapLoads` at stride 2 in every
    /// engine (the flat window loop of `interior_sliding` measured 2x slower there).
    Stride2Pairs,
}

impl DepthwiseVariant {
    pub const ALL: [DepthwiseVariant; 4] = [DepthwiseVariant::TapLoads, DepthwiseVariant::Sliding, DepthwiseVariant::SlidingRuns, DepthwiseVariant::Stride2Pairs];
    pub const DEFAULT: DepthwiseVariant = DepthwiseVariant::Stride2Pairs;
}

#[inline(always)]
unsafe fn rows_dispatch(job: &Rows, v: DepthwiseVariant) {
    use DepthwiseVariant::*;
    match (job.g.k, job.g.stride, v) {
        (3, 1, SlidingRuns | Stride2Pairs) if short_rows(job.g) => rows_runs::<3>(job),
        (5, 1, SlidingRuns | Stride2Pairs) if short_rows(job.g) => rows_runs::<5>(job),
        (3, 1, Sliding | SlidingRuns | Stride2Pairs) => rows_k::<3, 1, true>(job),
        (5, 1, Sliding | SlidingRuns | Stride2Pairs) => rows_k::<5, 1, true>(job),
        (3, 2, Stride2Pairs) => rows_k::<3, 2, true>(job),
        (5, 2, Stride2Pairs) => rows_k::<5, 2, true>(job),
        (3, 1 | 2, _) => rows_k::<3, 0, false>(job),
        (5, 1 | 2, _) => rows_k::<5, 0, false>(job),
        _ => rows_any(job),
    }
}

/// `depthwise` on one thread with a chosen interior loop (tests and the kernel benchmark).
#[doc(hidden)]
pub fn depthwise_variant(v: DepthwiseVariant, input: &[f32], g: &ConvGeometry, w: &PackedDepthwise, act: Act, zeros: &[f32], out: &mut [f32]) {
    assert!(g.k == w.k && g.k * g.k <= MAX_TAPS && input.len() >= g.in_h * g.in_w * w.c);
    assert!(out.len() >= g.out_h * g.out_w * w.c && zeros.len() >= zeros_len(g, w.c));
    let job = Rows { input: input.as_ptr(), zeros: zeros.as_ptr(), g, w, act, out: out.as_mut_ptr(), rows: 0..g.out_h, cs: (0, w.c) };
    // SAFETY: lengths asserted above, as in `depthwise`.
    unsafe { rows_dispatch(&job, v) }
}

/// Output columns whose taps all fall inside the input: [lo, hi).
fn interior_cols(g: &ConvGeometry) -> (usize, usize) {
    let lo = g.pad_left.div_ceil(g.stride).min(g.out_w);
    let hi = if g.in_w + g.pad_left >= g.k { ((g.in_w + g.pad_left - g.k) / g.stride + 1).min(g.out_w) } else { 0 };
    (lo, hi.max(lo))
}

/// Start of input row `ky` for output row `oy`, or the zero row.
#[inline(always)]
unsafe fn row_ptr(input: *const f32, zeros: *const f32, g: &ConvGeometry, c: usize, oy: usize, ky: usize) -> *const f32 {
    match g.in_y(oy, ky) {
        Some(y) => input.add(y * g.in_w * c),
        None => zeros,
    }
}

/// One task: output rows `rows` x channels [cs.0, cs.1).
struct Rows<'a> {
    input: *const f32,
    zeros: *const f32,
    g: &'a ConvGeometry,
    w: &'a PackedDepthwise,
    act: Act,
    out: *mut f32,
    rows: std::ops::Range<usize>,
    cs: (usize, usize),
}

/// Rows too short for an 8-pixel interior block (7x7 maps).
fn short_rows(g: &ConvGeometry) -> bool {
    let (lo, hi) = interior_cols(g);
    hi - lo < 8
}

/// Kernel size K; with SLIDE, the sliding-window interior for stride S.
#[inline(never)]
unsafe fn rows_k<const K: usize, const S: usize, const SLIDE: bool>(job: &Rows) {
    let Rows { input, zeros, g, w, act, out, cs, .. } = *job;
    let c = w.c;
    let (lo, hi) = interior_cols(g);
    for oy in job.rows.clone() {
        let mut rows = [zeros; K];
        for (ky, r) in rows.iter_mut().enumerate() {
            *r = row_ptr(input, zeros, g, c, oy, ky);
        }
        let o = out.add(oy * g.out_w * c);
        for ox in (0..lo).chain(hi..g.out_w) {
            edge_pixel(&rows, g, w, act, o.add(ox * c), ox, cs);
        }
        let mut ox = lo;
        while ox + 8 <= hi {
            if SLIDE && S == 2 {
                interior_pairs::<K, 8>(&rows, g, w, act, o.add(ox * c), ox, cs)
            } else if SLIDE {
                interior_sliding::<K, 8, S>(&rows, g, w, act, o.add(ox * c), ox, cs)
            } else {
                interior::<K, 8>(&rows, g, w, act, o.add(ox * c), ox, cs)
            }
            ox += 8;
        }
        if ox + 4 <= hi {
            if SLIDE && S == 2 {
                interior_pairs::<K, 4>(&rows, g, w, act, o.add(ox * c), ox, cs)
            } else if SLIDE {
                interior_sliding::<K, 4, S>(&rows, g, w, act, o.add(ox * c), ox, cs)
            } else {
                interior::<K, 4>(&rows, g, w, act, o.add(ox * c), ox, cs)
            }
            ox += 4;
        }
        while ox < hi {
            // One pixel has no window to share (and measured slower sliding on 7x7 layers).
            interior::<K, 1>(&rows, g, w, act, o.add(ox * c), ox, cs);
            ox += 1;
        }
    }
}

/// Kernel size K, stride 1, short rows: each row in clipped runs of up to 8 pixels.
#[inline(never)]
unsafe fn rows_runs<const K: usize>(job: &Rows) {
    let Rows { input, zeros, g, w, act, out, cs, .. } = *job;
    let c = w.c;
    for oy in job.rows.clone() {
        let mut rows = [zeros; K];
        for (ky, r) in rows.iter_mut().enumerate() {
            *r = row_ptr(input, zeros, g, c, oy, ky);
        }
        let o = out.add(oy * g.out_w * c);
        let mut ox = 0;
        while ox < g.out_w {
            let n = (g.out_w - ox).min(8);
            if n <= 4 {
                run_clipped::<K, 4>(&rows, g, w, act, o, ox, n, cs)
            } else {
                run_clipped::<K, 8>(&rows, g, w, act, o, ox, n, cs)
            }
            ox += n;
        }
    }
}

/// Stride 1: output pixels [ox, ox + n) of one row (n <= P), anywhere in the row, as
/// `interior_sliding` (each weight vector loaded once for the P pixels, each input vector once),
/// except that input columns in the padding are skipped (as in the reference); pixels past n
/// are computed and not stored.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn run_clipped<const K: usize, const P: usize>(
    rows: &[*const f32; K],
    g: &ConvGeometry,
    w: &PackedDepthwise,
    act: Act,
    o: *mut f32,
    ox: usize,
    n: usize,
    cs: (usize, usize),
) {
    let c = w.c;
    debug_assert!(g.stride == 1 && n <= P);
    // Input column of the run's first tap (may be negative); columns x0 + j with j in [jlo, jhi)
    // are inside the image.
    let x0 = ox as isize - g.pad_left as isize;
    let jlo = (-x0).max(0) as usize;
    let jhi = (g.in_w as isize - x0).max(0) as usize;
    let o = o.add(ox * c);
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 4 <= c_end {
        let mut acc = [F32x4::load(bias.add(ch)); P];
        for (ky, &row) in rows.iter().enumerate() {
            let base = row.wrapping_offset(x0 * c as isize).wrapping_add(ch);
            let mut wv = [F32x4::splat(0.0); K];
            for (kx, v) in wv.iter_mut().enumerate() {
                *v = F32x4::load(wt.add((ky * K + kx) * c + ch));
            }
            for j in 0..P + K - 1 {
                if j < jlo || j >= jhi {
                    continue;
                }
                // Input column j is tap kx of pixel j - kx; kx ascending as j grows.
                let v = F32x4::load(base.wrapping_add(j * c));
                for (kx, wk) in wv.iter().enumerate() {
                    if j >= kx && j - kx < P {
                        acc[j - kx] = acc[j - kx].mul_add(v, *wk);
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            if r < n {
                act.apply4(*a).store(o.add(r * c + ch));
            }
        }
        ch += 4;
    }
    for ch in ch..c_end {
        for r in 0..n {
            let mut acc = *bias.add(ch);
            for (ky, &row) in rows.iter().enumerate() {
                for j in (r..r + K).filter(|j| (jlo..jhi).contains(j)) {
                    acc += *row.offset((x0 + j as isize) * c as isize).add(ch) * *wt.add((ky * K + j - r) * c + ch);
                }
            }
            *o.add(r * c + ch) = act.apply(acc);
        }
    }
}

/// P adjacent interior output pixels, channels [cs.0, cs.1), 4 channels at a time: P
/// accumulators, one weight load per tap shared by the P pixels.
#[inline(always)]
unsafe fn interior<const K: usize, const P: usize>(rows: &[*const f32; K], g: &ConvGeometry, w: &PackedDepthwise, act: Act, o: *mut f32, ox: usize, cs: (usize, usize)) {
    let (c, s) = (w.c, g.stride);
    let x0 = ox * s - g.pad_left;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 4 <= c_end {
        let mut acc = [F32x4::load(bias.add(ch)); P];
        for (ky, &row) in rows.iter().enumerate() {
            let base = row.add(x0 * c + ch);
            for kx in 0..K {
                let wv = F32x4::load(wt.add((ky * K + kx) * c + ch));
                let ip = base.add(kx * c);
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = a.mul_add(F32x4::load(ip.add(r * s * c)), wv);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            act.apply4(*a).store(o.add(r * c + ch));
        }
        ch += 4;
    }
    interior_scalar::<K, P>(rows, w, act, o, x0, s, (ch, c_end));
}

/// Channels [cs.0, cs.1) of P interior pixels one float at a time (the tail after the 4-wide
/// groups); `x0` is the input column of the first pixel's first tap.
#[inline(always)]
unsafe fn interior_scalar<const K: usize, const P: usize>(rows: &[*const f32; K], w: &PackedDepthwise, act: Act, o: *mut f32, x0: usize, s: usize, cs: (usize, usize)) {
    let c = w.c;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    for ch in cs.0..cs.1 {
        for r in 0..P {
            let mut acc = *bias.add(ch);
            for (ky, &row) in rows.iter().enumerate() {
                for kx in 0..K {
                    acc += *row.add((x0 + r * s + kx) * c + ch) * *wt.add((ky * K + kx) * c + ch);
                }
            }
            *o.add(r * c + ch) = act.apply(acc);
        }
    }
}

/// As `interior` for stride S: per kernel row, the K weight vectors stay in registers and the
/// (P-1)*S+K input vectors are loaded once each, every one added into the pixels whose window
/// covers it. Each pixel still sums its taps in (ky, kx) order.
#[inline(always)]
unsafe fn interior_sliding<const K: usize, const P: usize, const S: usize>(
    rows: &[*const f32; K],
    g: &ConvGeometry,
    w: &PackedDepthwise,
    act: Act,
    o: *mut f32,
    ox: usize,
    cs: (usize, usize),
) {
    let c = w.c;
    debug_assert_eq!(g.stride, S);
    let x0 = ox * S - g.pad_left;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 4 <= c_end {
        let mut acc = [F32x4::load(bias.add(ch)); P];
        for (ky, &row) in rows.iter().enumerate() {
            let base = row.add(x0 * c + ch);
            let mut wv = [F32x4::splat(0.0); K];
            for (kx, v) in wv.iter_mut().enumerate() {
                *v = F32x4::load(wt.add((ky * K + kx) * c + ch));
            }
            for j in 0..(P - 1) * S + K {
                let v = F32x4::load(base.add(j * c));
                // Input column j is tap kx of pixel r when j = r*S + kx; kx ascending as j grows.
                for (kx, wk) in wv.iter().enumerate() {
                    if j >= kx && (j - kx) % S == 0 && (j - kx) / S < P {
                        let r = (j - kx) / S;
                        acc[r] = acc[r].mul_add(v, *wk);
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            act.apply4(*a).store(o.add(r * c + ch));
        }
        ch += 4;
    }
    interior_scalar::<K, P>(rows, w, act, o, x0, S, (ch, c_end));
}

/// Stride 2: as `interior_sliding`, written as a loop over the pixels, each loading its two new
/// columns (2r, 2r+1) and adding them into every pixel whose window covers them, then the last
/// K-2 columns.
#[inline(always)]
unsafe fn interior_pairs<const K: usize, const P: usize>(rows: &[*const f32; K], g: &ConvGeometry, w: &PackedDepthwise, act: Act, o: *mut f32, ox: usize, cs: (usize, usize)) {
    let c = w.c;
    let x0 = ox * 2 - g.pad_left;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 4 <= c_end {
        let mut acc = [F32x4::load(bias.add(ch)); P];
        for (ky, &row) in rows.iter().enumerate() {
            let base = row.add(x0 * c + ch);
            let mut wv = [F32x4::splat(0.0); K];
            for (kx, v) in wv.iter_mut().enumerate() {
                *v = F32x4::load(wt.add((ky * K + kx) * c + ch));
            }
            for r in 0..P {
                for e in 0..2 {
                    // Column 2r+e is tap kx of pixel r - (kx-e)/2, for kx = e, e+2, ...
                    let v = F32x4::load(base.add((2 * r + e) * c));
                    let mut kx = e;
                    while kx < K {
                        let q = (kx - e) / 2;
                        if q <= r {
                            acc[r - q] = acc[r - q].mul_add(v, wv[kx]);
                        }
                        kx += 2;
                    }
                }
            }
            for j in 2 * P..2 * (P - 1) + K {
                let v = F32x4::load(base.add(j * c));
                for (kx, wk) in wv.iter().enumerate() {
                    if j >= kx && (j - kx) % 2 == 0 && (j - kx) / 2 < P {
                        acc[(j - kx) / 2] = acc[(j - kx) / 2].mul_add(v, *wk);
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            act.apply4(*a).store(o.add(r * c + ch));
        }
        ch += 4;
    }
    interior_scalar::<K, P>(rows, w, act, o, x0, 2, (ch, c_end));
}

/// One output pixel near the left/right edge: the interior loop over the kernel columns that
/// fall inside the image (the others would only add zeros, as the reference skips them).
#[inline(never)]
unsafe fn edge_pixel<const K: usize>(rows: &[*const f32; K], g: &ConvGeometry, w: &PackedDepthwise, act: Act, o: *mut f32, ox: usize, cs: (usize, usize)) {
    let (c, s) = (w.c, g.stride);
    let x0 = (ox * s) as isize - g.pad_left as isize; // input column of kx = 0, may be < 0
    let kx_lo = (-x0).clamp(0, K as isize) as usize;
    let kx_hi = (g.in_w as isize - x0).clamp(0, K as isize) as usize;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 8 <= c_end {
        let mut a0 = F32x4::load(bias.add(ch));
        let mut a1 = F32x4::load(bias.add(ch + 4));
        for (ky, &row) in rows.iter().enumerate() {
            for kx in kx_lo..kx_hi {
                let ip = row.offset((x0 + kx as isize) * c as isize).add(ch);
                let wp = wt.add((ky * K + kx) * c + ch);
                a0 = a0.mul_add(F32x4::load(ip), F32x4::load(wp));
                a1 = a1.mul_add(F32x4::load(ip.add(4)), F32x4::load(wp.add(4)));
            }
        }
        act.apply4(a0).store(o.add(ch));
        act.apply4(a1).store(o.add(ch + 4));
        ch += 8;
    }
    while ch < c_end {
        let mut acc = *bias.add(ch);
        for (ky, &row) in rows.iter().enumerate() {
            for kx in kx_lo..kx_hi {
                acc += *row.offset((x0 + kx as isize) * c as isize).add(ch) * *wt.add((ky * K + kx) * c + ch);
            }
        }
        *o.add(ch) = act.apply(acc);
        ch += 1;
    }
}

/// Channels [cs.0, cs.1) of one output pixel from resolved tap pointers.
#[inline(always)]
unsafe fn pixel(taps: &[*const f32], w: &PackedDepthwise, act: Act, o: *mut f32, cs: (usize, usize)) {
    let c = w.c;
    let (wt, bias) = (w.taps.as_ptr(), w.bias.as_ptr());
    let (mut ch, c_end) = cs;
    while ch + 16 <= c_end {
        let mut a = [F32x4::load(bias.add(ch)), F32x4::load(bias.add(ch + 4)), F32x4::load(bias.add(ch + 8)), F32x4::load(bias.add(ch + 12))];
        for (t, &ip) in taps.iter().enumerate() {
            let wp = wt.add(t * c + ch);
            let ip = ip.add(ch);
            for (j, aj) in a.iter_mut().enumerate() {
                *aj = aj.mul_add(F32x4::load(ip.add(4 * j)), F32x4::load(wp.add(4 * j)));
            }
        }
        for (j, aj) in a.iter().enumerate() {
            act.apply4(*aj).store(o.add(ch + 4 * j));
        }
        ch += 16;
    }
    while ch + 4 <= c_end {
        let mut a0 = F32x4::load(bias.add(ch));
        for (t, &ip) in taps.iter().enumerate() {
            a0 = a0.mul_add(F32x4::load(ip.add(ch)), F32x4::load(wt.add(t * c + ch)));
        }
        act.apply4(a0).store(o.add(ch));
        ch += 4;
    }
    while ch < c_end {
        let mut acc = *bias.add(ch);
        for (t, &ip) in taps.iter().enumerate() {
            acc += *ip.add(ch) * *wt.add(t * c + ch);
        }
        *o.add(ch) = act.apply(acc);
        ch += 1;
    }
}

/// Any kernel size: per-pixel tap pointers.
#[inline(never)]
unsafe fn rows_any(job: &Rows) {
    let Rows { input, zeros, g, w, act, out, cs, .. } = *job;
    let (c, k) = (w.c, g.k);
    let mut taps = [zeros; MAX_TAPS];
    for oy in job.rows.clone() {
        for ox in 0..g.out_w {
            for ky in 0..k {
                for kx in 0..k {
                    taps[ky * k + kx] = match (g.in_y(oy, ky), g.in_x(ox, kx)) {
                        (Some(y), Some(x)) => input.add((y * g.in_w + x) * c),
                        _ => zeros,
                    };
                }
            }
            pixel(&taps[..k * k], w, act, out.add((oy * g.out_w + ox) * c), cs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::Padding;
    use super::*;
    use crate::testutil::{run_with_threads, Lcg};

    /// Fast path (1 and 3 threads, so channel-split tasks are exercised) vs reference.
    fn check(h: usize, w_: usize, c: usize, k: usize, s: usize, pad: Padding, act: Act) {
        let g = ConvGeometry::new(h, w_, k, s, pad);
        let mut rng = Lcg::new((h * 31 + w_ * 7 + c * 3 + k + s) as u64);
        let input = rng.vec(h * w_ * c, 1.0);
        let w = rng.vec(c * k * k, 0.5);
        let b = rng.vec(c, 0.5);
        let mut want = vec![0f32; g.out_h * g.out_w * c];
        depthwise_ref(&input, &g, c, &w, &b, act, &mut want);
        let packed = PackedDepthwise::new(&w, &b, c, k);
        let zeros = vec![0.0; zeros_len(&g, c)];
        for threads in [1, 3] {
            let mut got = vec![f32::NAN; want.len()];
            let o = Out::new(&mut got);
            let mut sums = vec![f32::NAN; g.out_h * c];
            let so = Out::new(&mut sums);
            run_with_threads(threads, |team| depthwise(team, &input, &g, &packed, act, &zeros, o, Some(so)));
            crate::kernels::simd::assert_kernel_matches(&got, &want, k * k, &format!("{h}x{w_}x{c} k{k} s{s} {pad:?} threads {threads}"));
            // The sums are of the kernel's own outputs, in order: exact in every build.
            let mut want_sums = vec![0f32; g.out_h * c];
            crate::kernels::squeeze_excite::row_sums_ref(&got, g.out_h, g.out_w, c, &mut want_sums);
            assert!(sums.iter().zip(&want_sums).all(|(a, b)| a.to_bits() == b.to_bits()), "row sums {h}x{w_}x{c} k{k}");
        }
        // Each interior variant alone: the reference, and (mul then add) the same bits as each
        // other. With a fused multiply-add the variants differ in which channels take the vector
        // path (edge pixels 8 at a time, runs 4) and so in rounding; each is held to the reference.
        let mut first: Option<Vec<f32>> = None;
        for v in DepthwiseVariant::ALL {
            let mut got = vec![f32::NAN; want.len()];
            depthwise_variant(v, &input, &g, &packed, act, &zeros, &mut got);
            crate::kernels::simd::assert_kernel_matches(&got, &want, k * k, &format!("{v:?} {h}x{w_}x{c} k{k} s{s} {pad:?}"));
            if let (Some(f), false) = (&first, crate::kernels::simd::FUSED_MADD) {
                assert!(f.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{v:?} differs, {h}x{w_}x{c} k{k} s{s}");
            }
            first = Some(got);
        }
    }

    #[test]
    fn fast_equals_reference() {
        for pad in [Padding::Symmetric, Padding::TfSame] {
            for &(h, w, c) in &[(1, 1, 1), (2, 3, 5), (7, 7, 16), (9, 6, 21), (15, 15, 36), (14, 14, 67), (3, 12, 8), (12, 3, 12)] {
                for k in [1, 3, 5, 7] {
                    for s in [1, 2] {
                        check(h, w, c, k, s, pad, Act::HardSwish);
                    }
                }
            }
        }
        check(8, 8, 24, 3, 1, Padding::Symmetric, Act::Relu);
        check(7, 7, 960, 5, 1, Padding::Symmetric, Act::HardSwish);
        check(5, 29, 13, 5, 1, Padding::Symmetric, Act::Relu); // 8 + 4 + 1-pixel interior steps, channel tail
        check(4, 30, 9, 3, 1, Padding::TfSame, Act::HardSwish);
        check(8, 8, 24, 3, 2, Padding::TfSame, Act::Identity);
        // Clipped runs: a row of 1-8 pixels, a run past the row's end, stride 2, channel tails.
        check(9, 17, 13, 5, 2, Padding::Symmetric, Act::HardSwish);
        check(6, 22, 10, 3, 2, Padding::Symmetric, Act::Relu);
        check(5, 10, 7, 5, 1, Padding::Symmetric, Act::HardSwish);
        check(4, 2, 12, 5, 1, Padding::TfSame, Act::HardSwish);
    }
}
