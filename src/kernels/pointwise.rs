//! 1x1 convolution in NHWC = a GEMM: out[M x N] = act(A[M x K] * W[K x N] + bias) (+ residual),
//! with M = pixels, K = input channels, N = output channels.
//!
//! The fast path is a register-blocked micro-kernel (MR pixels x NR=8 channels of accumulators)
//! over weights packed once at load time into K x 8 panels, with bias, activation and the
//! residual add fused into the store. Every output element is `bias + a0*w0 + a1*w1 + ...` in
//! k order, in the reference and the fast path alike.

use super::activation::Act;
use super::parallel::{chunk_size, Out, Team};
use super::simd::F32x4;
use std::sync::atomic::{AtomicU8, Ordering};

/// Output channels per packed panel (two f32x4 accumulators per pixel).
pub const NR: usize = 8;
/// Pixels per micro-kernel call.
pub const MR: usize = 4;

/// Plain reference: `w` is PyTorch's [N][K] layout.
#[allow(clippy::too_many_arguments)]
pub fn pointwise_ref(
    a: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    bias: &[f32],
    n: usize,
    act: Act,
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    assert!(a.len() >= m * k && w.len() == n * k && bias.len() == n && out.len() >= m * n);
    for i in 0..m {
        for j in 0..n {
            let mut acc = bias[j];
            for kk in 0..k {
                acc += a[i * k + kk] * w[j * k + kk];
            }
            let mut v = act.apply(acc);
            if let Some(r) = residual {
                v += r[i * n + j];
            }
            out[i * n + j] = v;
        }
    }
}

/// Weights of a 1x1 convolution packed into panels of `NR` output channels: panel `p` holds,
/// for each k, the weights of channels p*NR .. p*NR+NR (zero beyond N).
#[derive(Clone, Debug)]
pub struct PackedPointwise {
    pub k: usize,
    pub n: usize,
    panels: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedPointwise {
    /// `w` in PyTorch's [N][K] layout (a [N, K, 1, 1] conv weight), `bias` of length N.
    pub fn new(w: &[f32], bias: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(w.len(), n * k);
        assert_eq!(bias.len(), n);
        let np = n.div_ceil(NR);
        let mut panels = vec![0f32; np * k * NR];
        for j in 0..n {
            let (p, c) = (j / NR, j % NR);
            for kk in 0..k {
                panels[(p * k + kk) * NR + c] = w[j * k + kk];
            }
        }
        let mut b = vec![0f32; np * NR];
        b[..n].copy_from_slice(bias);
        PackedPointwise { k, n, panels, bias: b }
    }

    pub fn num_panels(&self) -> usize {
        self.n.div_ceil(NR)
    }

    /// Start of panel `p` (k rows of NR weights).
    pub(crate) fn panel_ptr(&self, p: usize) -> *const f32 {
        self.panels[p * self.k * NR..].as_ptr()
    }

    /// Bias of panel `p` (NR values, zero-padded).
    pub(crate) fn bias_ptr(&self, p: usize) -> *const f32 {
        self.bias[p * NR..].as_ptr()
    }

    /// Bytes held (for memory reporting).
    pub fn bytes(&self) -> usize {
        (self.panels.len() + self.bias.len()) * 4
    }
}

/// Fast path. `a` is [m][k] (row stride k), `out` and `residual` are [m][n]. Runs as one
/// stage of `team`.
pub fn pointwise(team: &Team, a: &[f32], m: usize, w: &PackedPointwise, act: Act, residual: Option<&[f32]>, out: Out) {
    let (k, n) = (w.k, w.n);
    assert!(a.len() >= m * k, "pointwise: input too short");
    assert!(out.len >= m * n, "pointwise: output too short");
    if let Some(r) = residual {
        assert!(r.len() >= m * n, "pointwise: residual too short");
    }
    let np = w.num_panels();
    if m == 0 || n == 0 {
        return team.stage(0, |_| {});
    }
    if m == 1 {
        // Matrix-vector: memory bound; split the panels so every thread streams its share.
        let per = chunk_size(np, team.size * 2, GEMV_PANELS);
        return team.stage(np.div_ceil(per), |t| {
            let p0 = t * per;
            // SAFETY: task t writes columns [p0*NR, p1*NR) of the single output row.
            unsafe { gemv(a.as_ptr(), w, act, residual.map(|r| r.as_ptr()), out.ptr(), p0, (p0 + per).min(np)) };
        });
    }
    // Row blocks x panel ranges: enough tasks to balance the team even on 7x7 layers, each
    // still thousands of MACs.
    let t = team.size;
    let rows_per_task = if t == 1 { m.div_ceil(MR) * MR } else { chunk_size(m, t * 2, MR) };
    let m_tasks = m.div_ceil(rows_per_task);
    let n_tasks = if t == 1 { 1 } else { (t * 4).div_ceil(m_tasks).clamp(1, np) };
    let panels_per_task = np.div_ceil(n_tasks);
    let n_tasks = np.div_ceil(panels_per_task);
    let res = residual.map(|r| r.as_ptr());
    team.stage(m_tasks * n_tasks, |task| {
        let (mt, nt) = (task / n_tasks, task % n_tasks);
        let m0 = mt * rows_per_task;
        let p0 = nt * panels_per_task;
        // SAFETY: tasks write disjoint [m0..m1) x [p0*NR..p1*NR) blocks of `out`; all indices
        // stay inside the lengths asserted above.
        let job = Block { a: a.as_ptr(), w, out: out.ptr(), rows: m0..(m0 + rows_per_task).min(m), panels: p0..(p0 + panels_per_task).min(np) };
        unsafe { gemm_block(&job, act, res) };
    });
}

/// Panels a GEMV inner step covers at once (4 x 8 columns = 8 independent accumulators).
const GEMV_PANELS: usize = 4;

/// Matrix-vector product for output panels [p0, p1) only (columns p0*NR ..), no residual.
///
/// # Safety
/// `a` must hold `w.k` floats and `out` must be writable at columns [p0*NR, min(p1*NR, n)).
pub(crate) unsafe fn gemv_panels(a: *const f32, w: &PackedPointwise, act: Act, out: *mut f32, p0: usize, p1: usize) {
    gemv(a, w, act, None, out, p0, p1)
}

/// One output row, panels [p0, p1): several panels at a time so the adds do not wait on each other.
#[inline(never)]
unsafe fn gemv(a: *const f32, w: &PackedPointwise, act: Act, residual: Option<*const f32>, out: *mut f32, p0: usize, p1: usize) {
    let k = w.k;
    let n = w.n;
    let mut p = p0;
    while p + GEMV_PANELS <= p1 {
        let mut acc = [F32x4::splat(0.0); 2 * GEMV_PANELS];
        let mut wp = [core::ptr::null::<f32>(); GEMV_PANELS];
        for (j, (acc2, wpj)) in acc.chunks_exact_mut(2).zip(wp.iter_mut()).enumerate() {
            let bias = w.bias.as_ptr().add((p + j) * NR);
            acc2[0] = F32x4::load(bias);
            acc2[1] = F32x4::load(bias.add(4));
            *wpj = w.panels.as_ptr().add((p + j) * k * NR);
        }
        for kk in 0..k {
            let av = F32x4::load_splat(a.add(kk));
            for j in 0..GEMV_PANELS {
                let q = wp[j].add(kk * NR);
                acc[2 * j] = acc[2 * j].mul_add(av, F32x4::load(q));
                acc[2 * j + 1] = acc[2 * j + 1].mul_add(av, F32x4::load(q.add(4)));
            }
        }
        for j in 0..GEMV_PANELS {
            store_row(&[acc[2 * j], acc[2 * j + 1]], act, residual.map(|r| r.add((p + j) * NR)), out.add((p + j) * NR), (n - (p + j) * NR).min(NR));
        }
        p += GEMV_PANELS;
    }
    while p < p1 {
        let panel = w.panels.as_ptr().add(p * k * NR);
        let bias = w.bias.as_ptr().add(p * NR);
        micro::<1>(a, k, panel, bias, act, residual.map(|r| r.add(p * NR)), out.add(p * NR), n, (n - p * NR).min(NR));
        p += 1;
    }
}

/// Activation, residual and store of one row of 8 accumulated outputs (`cols` valid).
#[inline(always)]
pub(crate) unsafe fn store_row(v: &[F32x4; 2], act: Act, residual: Option<*const f32>, o: *mut f32, cols: usize) {
    let mut v0 = act.apply4(v[0]);
    let mut v1 = act.apply4(v[1]);
    if cols == NR {
        if let Some(rp) = residual {
            v0 = v0.add(F32x4::load(rp));
            v1 = v1.add(F32x4::load(rp.add(4)));
        }
        v0.store(o);
        v1.store(o.add(4));
    } else {
        let mut tmp = [0f32; NR];
        v0.store(tmp.as_mut_ptr());
        v1.store(tmp.as_mut_ptr().add(4));
        for (c, &t) in tmp.iter().enumerate().take(cols) {
            *o.add(c) = match residual {
                Some(rp) => t + *rp.add(c),
                None => t,
            };
        }
    }
}

/// One task of the GEMM: output rows `rows` x panels `panels` (A is [m][w.k], out [m][w.n]).
struct Block<'a> {
    a: *const f32,
    w: &'a PackedPointwise,
    out: *mut f32,
    rows: std::ops::Range<usize>,
    panels: std::ops::Range<usize>,
}

/// Micro-kernel variants of the GEMM, all 4 pixels x 8 channels over the same K x 8 panels and
/// all summing each output in k order with the same operations, so every variant gives the same
/// bits (and equals the reference bit for bit without FMA). Which is fastest depends on the
/// engine's code generator, not on the CPU: measured with `bench/kernels.mjs` (best of 31, GMAC/s
/// on the large model's shapes), V8 and JavaScriptCore run `Splat4` fastest (unrolling costs V8
/// 15-25%, packing 1-6%), while SpiderMonkey runs `Splat4U` ~40% faster than `Splat4` in the
/// SIMD128 build and `Packed4` ~10% faster in the relaxed-SIMD build. So the wasm picks one at
/// start-up by timing them (`calibrate`); natively it is `Splat4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmVariant {
    /// A broadcast from memory one value at a time (`v128.load32_splat`), one pointer per row.
    Splat4 = 0,
    /// As `Splat4` with k unrolled by 4 (constant load offsets, a quarter of the pointer bumps
    /// and loop back-edges).
    Splat4U = 1,
    /// As `Splat4` over A re-laid per row block as [k][4 pixels] in a stack buffer (one A
    /// pointer, constant offsets).
    Packed4 = 2,
}

impl GemmVariant {
    pub const ALL: [GemmVariant; 3] = [GemmVariant::Splat4, GemmVariant::Splat4U, GemmVariant::Packed4];

    pub fn name(self) -> &'static str {
        match self {
            GemmVariant::Splat4 => "splat4",
            GemmVariant::Splat4U => "splat4-unrolled",
            GemmVariant::Packed4 => "packed4",
        }
    }
}

/// The variant `pointwise` runs (a `GemmVariant` as u8; `calibrate` sets it).
static GEMM_VARIANT: AtomicU8 = AtomicU8::new(GemmVariant::Splat4 as u8);

/// The variant in use.
pub fn gemm_variant() -> GemmVariant {
    GemmVariant::ALL[GEMM_VARIANT.load(Ordering::Relaxed) as usize]
}

/// Times every variant on one thread (a 784 x 48 x 64 GEMM, the variants interleaved, best of
/// `rounds`: interruptions only add time) and makes the fastest the one `pointwise` runs; an
/// alternative must beat `Splat4` by 3% to replace it. `now` is a clock in ms. Results do not
/// depend on the choice (same bits), only speed. Returns the choice and the best ms per variant.
pub fn calibrate(now: &dyn Fn() -> f64, rounds: usize) -> (GemmVariant, [f64; 3]) {
    let (m, k, n) = (784, 48, 64);
    let mut g = crate::testutil::Lcg::new(3);
    let a = g.vec(m * k, 1.0);
    let w = PackedPointwise::new(&g.vec(n * k, 0.5), &g.vec(n, 0.5), k, n);
    let mut out = vec![0f32; m * n];
    let mut best = [f64::INFINITY; 3];
    for round in 0..rounds + 1 {
        for (i, v) in GemmVariant::ALL.iter().enumerate() {
            let t0 = now();
            pointwise_variant(*v, &a, m, &w, Act::Relu, None, &mut out);
            let t = now() - t0;
            if round > 0 {
                best[i] = best[i].min(t); // round 0 warms up
            }
        }
    }
    let mut pick = GemmVariant::Splat4;
    for (i, v) in GemmVariant::ALL.iter().enumerate() {
        if best[i] < best[pick as usize] && best[i] < best[0] * 0.97 {
            pick = *v;
        }
    }
    GEMM_VARIANT.store(pick as u8, Ordering::Relaxed);
    (pick, best)
}

/// Dispatch to a copy of the row-block loop specialized for the variant, the activation and the
/// residual, so the per-tile epilogue has no branches.
unsafe fn gemm_block(job: &Block, act: Act, residual: Option<*const f32>) {
    gemm_block_variant(job, gemm_variant(), act, residual)
}

unsafe fn gemm_block_variant(job: &Block, variant: GemmVariant, act: Act, residual: Option<*const f32>) {
    macro_rules! go {
        ($a:expr) => {
            match (residual, variant) {
                (Some(r), GemmVariant::Splat4) => gemm_block_t::<{ $a.code() }, true, 1>(job, r),
                (None, GemmVariant::Splat4) => gemm_block_t::<{ $a.code() }, false, 1>(job, core::ptr::null()),
                (Some(r), GemmVariant::Splat4U) => gemm_block_t::<{ $a.code() }, true, 4>(job, r),
                (None, GemmVariant::Splat4U) => gemm_block_t::<{ $a.code() }, false, 4>(job, core::ptr::null()),
                (Some(r), GemmVariant::Packed4) => gemm_block_packed::<{ $a.code() }, true>(job, r),
                (None, GemmVariant::Packed4) => gemm_block_packed::<{ $a.code() }, false>(job, core::ptr::null()),
            }
        };
    }
    match act {
        Act::Identity => go!(Act::Identity),
        Act::Relu => go!(Act::Relu),
        Act::HardSwish => go!(Act::HardSwish),
        Act::HardSigmoid => go!(Act::HardSigmoid),
        Act::Gelu => go!(Act::Gelu),
    }
}

/// `pointwise` on one thread with a chosen micro-kernel (tests, calibration, kernel benchmark).
#[doc(hidden)]
pub fn pointwise_variant(variant: GemmVariant, a: &[f32], m: usize, w: &PackedPointwise, act: Act, residual: Option<&[f32]>, out: &mut [f32]) {
    assert!(a.len() >= m * w.k && out.len() >= m * w.n);
    if let Some(r) = residual {
        assert!(r.len() >= m * w.n);
    }
    if m == 0 || w.n == 0 {
        return;
    }
    let job = Block { a: a.as_ptr(), w, out: out.as_mut_ptr(), rows: 0..m, panels: 0..w.num_panels() };
    // SAFETY: lengths asserted above; one block covers the whole output.
    unsafe { gemm_block_variant(&job, variant, act, residual.map(|r| r.as_ptr())) }
}

/// A floats a row block may hold (32 KiB: the block stays in L1).
const BLOCK_FLOATS: usize = 8192;

/// Rows per block: their A rows fit in L1, a multiple of MR.
fn row_block(k: usize) -> usize {
    ((BLOCK_FLOATS / k.max(1)) / MR * MR).clamp(MR, 256)
}

/// The row-block loop; U > 1 unrolls the micro-kernel's k loop by U.
#[inline(never)]
unsafe fn gemm_block_t<const A: u8, const RES: bool, const U: usize>(job: &Block, residual: *const f32) {
    let act = Act::from_code(A);
    let (a, w, out) = (job.a, job.w, job.out);
    let (k, n) = (w.k, w.n);
    let res = |off: usize| if RES { Some(residual.add(off)) } else { None };
    // Row blocks whose A rows fit in L1 (~32 KiB): each block is swept panel by panel, so a
    // panel is reused by every row of the block and each output row is completed while its
    // cache lines are still near (whole lines written, not one half per panel pass).
    let block = row_block(k);
    let mut b0 = job.rows.start;
    while b0 < job.rows.end {
        let b1 = (b0 + block).min(job.rows.end);
        for p in job.panels.clone() {
            let panel = w.panels.as_ptr().add(p * k * NR);
            let bias = w.bias.as_ptr().add(p * NR);
            let n0 = p * NR;
            let cols = (n - n0).min(NR);
            let mut i = b0;
            while i + MR <= b1 {
                if U > 1 {
                    micro_unrolled::<MR, U>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                } else {
                    micro::<MR>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                }
                i += MR;
            }
            while i < b1 {
                micro::<1>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += 1;
            }
        }
        b0 = b1;
    }
}

/// As `gemm_block_t::<A, RES, 1>`, but each row block's full quads of A rows are first re-laid
/// as [k][4] in a buffer on the stack, so the micro-kernel walks one A pointer.
#[inline(never)]
unsafe fn gemm_block_packed<const A: u8, const RES: bool>(job: &Block, residual: *const f32) {
    let act = Act::from_code(A);
    let (a, w, out) = (job.a, job.w, job.out);
    let (k, n) = (w.k, w.n);
    let res = |off: usize| if RES { Some(residual.add(off)) } else { None };
    let block = row_block(k);
    let mut buf = [0f32; BLOCK_FLOATS];
    let mut b0 = job.rows.start;
    while b0 < job.rows.end {
        let b1 = (b0 + block).min(job.rows.end);
        let quads = (b1 - b0) / MR;
        // With k > BLOCK_FLOATS / 4 one quad does not fit: those rows take the plain path.
        let packed = if quads * MR * k <= buf.len() { quads } else { 0 };
        for q in 0..packed {
            let src = a.add((b0 + MR * q) * k);
            let dst = buf.as_mut_ptr().add(q * MR * k);
            for kk in 0..k {
                for r in 0..MR {
                    *dst.add(kk * MR + r) = *src.add(r * k + kk);
                }
            }
        }
        for p in job.panels.clone() {
            let panel = w.panels.as_ptr().add(p * k * NR);
            let bias = w.bias.as_ptr().add(p * NR);
            let n0 = p * NR;
            let cols = (n - n0).min(NR);
            let mut i = b0;
            for q in 0..packed {
                micro_packed(buf.as_ptr().add(q * MR * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += MR;
            }
            while i + MR <= b1 {
                micro::<MR>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += MR;
            }
            while i < b1 {
                micro::<1>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += 1;
            }
        }
        b0 = b1;
    }
}

/// MR rows x 8 columns from A packed as [k][MR].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro_packed(ap: *const f32, k: usize, panel: *const f32, bias: *const f32, act: Act, residual: Option<*const f32>, out: *mut f32, ldo: usize, cols: usize) {
    let b0 = F32x4::load(bias);
    let b1 = F32x4::load(bias.add(4));
    let mut acc = [[b0, b1]; MR];
    let mut wp = panel;
    let mut ap = ap;
    let end = panel.add(k * NR);
    while wp < end {
        k_step(&mut acc, wp, |r| ap.add(r));
        wp = wp.add(NR);
        ap = ap.add(MR);
    }
    store_rows(&acc, act, residual, out, ldo, cols);
}

/// One k step of R rows x 8 columns: row r adds (A value at `a_at(r)`) x (the 8 weights at `wp`).
#[inline(always)]
unsafe fn k_step<const R: usize>(acc: &mut [[F32x4; 2]; R], wp: *const f32, a_at: impl Fn(usize) -> *const f32) {
    let w0 = F32x4::load(wp);
    let w1 = F32x4::load(wp.add(4));
    for (r, row) in acc.iter_mut().enumerate() {
        let av = F32x4::load_splat(a_at(r));
        row[0] = row[0].mul_add(av, w0);
        row[1] = row[1].mul_add(av, w1);
    }
}

/// Epilogue of R accumulated rows (output row stride `ldo`).
#[inline(always)]
unsafe fn store_rows<const R: usize>(acc: &[[F32x4; 2]; R], act: Act, residual: Option<*const f32>, out: *mut f32, ldo: usize, cols: usize) {
    for (r, row) in acc.iter().enumerate() {
        store_row(row, act, residual.map(|res| res.add(r * ldo)), out.add(r * ldo), cols);
    }
}

/// R rows x 8 columns of output. `cols` < 8 only for the last panel.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro<const R: usize>(
    a: *const f32,
    k: usize,
    panel: *const f32,
    bias: *const f32,
    act: Act,
    residual: Option<*const f32>,
    out: *mut f32,
    ldo: usize,
    cols: usize,
) {
    let b0 = F32x4::load(bias);
    let b1 = F32x4::load(bias.add(4));
    let mut acc = [[b0, b1]; R];
    let mut wp = panel;
    for kk in 0..k {
        k_step(&mut acc, wp, |r| a.add(r * k + kk));
        wp = wp.add(NR);
    }
    store_rows(&acc, act, residual, out, ldo, cols);
}

/// As `micro` with the k loop unrolled by U.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro_unrolled<const R: usize, const U: usize>(
    a: *const f32,
    k: usize,
    panel: *const f32,
    bias: *const f32,
    act: Act,
    residual: Option<*const f32>,
    out: *mut f32,
    ldo: usize,
    cols: usize,
) {
    let b0 = F32x4::load(bias);
    let b1 = F32x4::load(bias.add(4));
    let mut acc = [[b0, b1]; R];
    let mut wp = panel;
    let mut ap = a;
    let mut kk = 0;
    while kk + U <= k {
        for u in 0..U {
            k_step(&mut acc, wp.add(u * NR), |r| ap.add(r * k + u));
        }
        wp = wp.add(U * NR);
        ap = ap.add(U);
        kk += U;
    }
    while kk < k {
        k_step(&mut acc, wp, |r| ap.add(r * k));
        wp = wp.add(NR);
        ap = ap.add(1);
        kk += 1;
    }
    store_rows(&acc, act, residual, out, ldo, cols);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Lcg;

    fn check(m: usize, k: usize, n: usize, act: Act, with_res: bool) {
        let mut g = Lcg::new((m * 1000 + k * 10 + n) as u64);
        let a = g.vec(m * k, 1.0);
        let w = g.vec(n * k, 0.5);
        let b = g.vec(n, 0.5);
        let res = g.vec(m * n, 1.0);
        let r = if with_res { Some(&res[..]) } else { None };
        let mut want = vec![0f32; m * n];
        pointwise_ref(&a, m, k, &w, &b, n, act, r, &mut want);
        let packed = PackedPointwise::new(&w, &b, k, n);
        let mut got = vec![f32::NAN; m * n];
        pointwise(&Team::solo(), &a, m, &packed, act, r, Out::new(&mut got));
        crate::kernels::simd::assert_kernel_matches(&got, &want, k, &format!("m{m} k{k} n{n} {act:?} residual {with_res}"));
        // Every micro-kernel variant: the reference's result, and the same bits as each other
        // (also with FMA), so the start-up choice never changes an output.
        for v in GemmVariant::ALL {
            let mut got_v = vec![f32::NAN; m * n];
            pointwise_variant(v, &a, m, &packed, act, r, &mut got_v);
            crate::kernels::simd::assert_kernel_matches(&got_v, &want, k, &format!("{v:?} m{m} k{k} n{n} {act:?} residual {with_res}"));
            assert!(got_v.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits()), "{v:?} differs from the default, m{m} k{k} n{n}");
        }
    }

    /// Shapes that reach each variant's edges: row blocks with a tail of < 4 rows, k not a
    /// multiple of the unroll, k too large for a packed quad, the last panel partial.
    #[test]
    fn variants_on_block_edges() {
        for &(m, k, n) in &[(6, 5, 9), (261, 3, 8), (9, 2049, 8), (517, 48, 17), (4, 4100, 3)] {
            check(m, k, n, Act::HardSwish, true);
        }
    }

    /// `calibrate` keeps the variant that its clock says is fastest, and only by a margin.
    #[test]
    fn calibrate_picks_the_fastest() {
        use std::cell::Cell;
        // A fake clock: each call advances by the cost of the variant that is about to run or
        // just ran (calls come in pairs around each run, variants in `ALL` order).
        let run = |costs: [f64; 3]| {
            let calls = Cell::new(0usize);
            let t = Cell::new(0.0);
            let now = || {
                let c = calls.get();
                calls.set(c + 1);
                if c % 2 == 1 {
                    t.set(t.get() + costs[(c / 2) % 3]);
                }
                t.get()
            };
            calibrate(&now, 3)
        };
        assert_eq!(run([1.0, 1.0, 0.5]).0, GemmVariant::Packed4);
        assert_eq!(run([1.0, 0.5, 0.9]).0, GemmVariant::Splat4U);
        assert_eq!(run([1.0, 0.99, 0.98]).0, GemmVariant::Splat4, "within 3%: keep the default");
        assert_eq!(gemm_variant(), GemmVariant::Splat4);
    }

    #[test]
    fn fast_equals_reference_on_odd_shapes() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (4, 16, 8), (5, 3, 9), (13, 17, 23), (49, 96, 576), (7, 40, 120), (1, 960, 13), (1, 37, 77), (1, 64, 32)] {
            for act in [Act::Identity, Act::Relu, Act::HardSwish] {
                check(m, k, n, act, false);
            }
            check(m, k, n, Act::Identity, true);
        }
    }

    #[cfg(not(target_family = "wasm"))] // no threads under WASI
    #[test]
    fn thread_count_does_not_change_results() {
        for (m, k, n) in [(97, 72, 40), (1, 96, 100)] {
            let mut g = Lcg::new(7);
            let (a, w, b) = (g.vec(m * k, 1.0), g.vec(n * k, 1.0), g.vec(n, 1.0));
            let packed = PackedPointwise::new(&w, &b, k, n);
            let run = |t: usize| {
                let mut out = vec![0f32; m * n];
                let o = Out::new(&mut out);
                crate::testutil::run_with_threads(t, |team| pointwise(team, &a, m, &packed, Act::HardSwish, None, o));
                out
            };
            let one = run(1);
            for t in [2, 3, 4] {
                assert!(one.iter().zip(run(t)).all(|(x, y)| x.to_bits() == y.to_bits()), "threads={t}");
            }
        }
    }
}
