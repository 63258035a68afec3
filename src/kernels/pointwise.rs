//! 1x1 convolution in NHWC = a GEMM: out[M x N] = act(A[M x K] * W[K x N] + bias) (+ residual),
//! with M = pixels, K = input channels, N = output channels.
//!
//! The fast path is a register-blocked micro-kernel (2 pixels x 16 channels of accumulators, over
//! two of the weight panels packed once at load time as K x NR=8; `GemmVariant`), with bias, activation and the
//! residual add fused into the store. Every output element is `bias + a0*w0 + a1*w1 + ...` in
//! k order, in the reference and the fast path alike.

use super::activation::Act;
use super::parallel::{chunk_size, Out, Team};
use super::simd::F32x4;

/// Output channels per packed panel (two f32x4 accumulators per pixel).
pub const NR: usize = 8;
/// Pixels per micro-kernel call of `GemmVariant::Rows4`.
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

/// Micro-kernel variants of the GEMM: `pointwise` runs `GEMM_DEFAULT`; the other stays for
/// `bench/kernels.mjs` and `bench/ab.mjs`, which compare them per JS engine. Both sum each output
/// in k order with the same operations, so they give the same bits (with FMA too).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmVariant {
    /// 4 pixels x 8 channels (one panel), A broadcast from memory (`v128.load32_splat`).
    Rows4 = 0,
    /// 2 pixels x 16 channels (two panels): the same 8 accumulators and 6 loads per k step as
    /// `Rows4`. Measured faster in all three engines on the whole network (bench/ab.mjs, pointwise
    /// layers: V8 -6%, SpiderMonkey -10%, JavaScriptCore -9%).
    Rows2Cols16 = 1,
}

impl GemmVariant {
    pub const ALL: [GemmVariant; 2] = [GemmVariant::Rows4, GemmVariant::Rows2Cols16];
}

/// The variant `pointwise` runs.
const GEMM_DEFAULT: GemmVariant = GemmVariant::Rows2Cols16;

unsafe fn gemm_block(job: &Block, act: Act, residual: Option<*const f32>) {
    gemm_block_variant(job, GEMM_DEFAULT, act, residual)
}

/// Dispatch to a copy of the row-block loop specialized for the variant, the activation and the
/// residual, so the per-tile epilogue has no branches. Each copy is its own small function (no
/// variant inlined into another's).
#[inline(always)]
unsafe fn gemm_block_variant(job: &Block, variant: GemmVariant, act: Act, residual: Option<*const f32>) {
    macro_rules! go {
        ($a:expr) => {
            match (residual, variant) {
                (Some(r), GemmVariant::Rows4) => gemm_block_t::<{ $a.code() }, true, false>(job, r),
                (None, GemmVariant::Rows4) => gemm_block_t::<{ $a.code() }, false, false>(job, core::ptr::null()),
                (Some(r), GemmVariant::Rows2Cols16) => gemm_block_t::<{ $a.code() }, true, true>(job, r),
                (None, GemmVariant::Rows2Cols16) => gemm_block_t::<{ $a.code() }, false, true>(job, core::ptr::null()),
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

/// `pointwise` on one thread with a chosen micro-kernel (tests, kernel benchmark).
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

/// The row-block loop; `WIDE`: 2 x 16 tiles over pairs of panels (`Rows2Cols16`), else 4 x 8.
/// (An odd last panel takes 4 x 8 tiles either way: 8 accumulators, where 2 x 8 would have 4.)
#[inline(never)]
unsafe fn gemm_block_t<const A: u8, const RES: bool, const WIDE: bool>(job: &Block, residual: *const f32) {
    let act = Act::from_code(A);
    let (a, w, out) = (job.a, job.w, job.out);
    let (k, n) = (w.k, w.n);
    let res = |off: usize| if RES { Some(residual.add(off)) } else { None };
    // Row blocks whose A rows fit in L1 (~32 KiB): each block is swept panel by panel, so a
    // panel is reused by every row of the block and each output row is completed while its
    // cache lines are still near (whole lines written, not one half per panel pass).
    let block = ((8192 / k.max(1)) / MR * MR).clamp(MR, 256);
    let mut b0 = job.rows.start;
    while b0 < job.rows.end {
        let b1 = (b0 + block).min(job.rows.end);
        let mut p = job.panels.start;
        while p < job.panels.end {
            let panel = w.panels.as_ptr().add(p * k * NR);
            let bias = w.bias.as_ptr().add(p * NR);
            let n0 = p * NR;
            let cols = (n - n0).min(NR);
            let mut i = b0;
            if WIDE && p + 1 < job.panels.end {
                // Panels p and p + 1 (only the last panel of all may be partial).
                let cols2 = (n - n0 - NR).min(NR);
                while i + 2 <= b1 {
                    micro_x16::<2>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols2);
                    i += 2;
                }
                if i < b1 {
                    micro_x16::<1>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols2);
                }
                p += 2;
                continue;
            }
            // A single panel (`Rows4`; with `WIDE` the last of an odd number): 4 x 8 tiles.
            while i + MR <= b1 {
                micro::<MR>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += MR;
            }
            while i < b1 {
                micro::<1>(a.add(i * k), k, panel, bias, act, res(i * n + n0), out.add(i * n + n0), n, cols);
                i += 1;
            }
            p += 1;
        }
        b0 = b1;
    }
}

/// One k step of an R x 8 tile: `acc[r] += av(r) * w[0..8]`.
#[inline(always)]
unsafe fn k_step<const R: usize>(acc: &mut [[F32x4; 2]; R], wp: *const f32, av: impl Fn(usize) -> F32x4) {
    let w0 = F32x4::load(wp);
    let w1 = F32x4::load(wp.add(4));
    for (r, row) in acc.iter_mut().enumerate() {
        let a = av(r);
        row[0] = row[0].mul_add(a, w0);
        row[1] = row[1].mul_add(a, w1);
    }
}

/// Bias into the accumulators of an R x 8 tile.
#[inline(always)]
unsafe fn tile_init<const R: usize>(bias: *const f32) -> [[F32x4; 2]; R] {
    [[F32x4::load(bias), F32x4::load(bias.add(4))]; R]
}

/// Activation, residual and store of an R x 8 tile.
#[inline(always)]
unsafe fn tile_store<const R: usize>(acc: &[[F32x4; 2]; R], act: Act, residual: Option<*const f32>, out: *mut f32, ldo: usize, cols: usize) {
    for (r, row) in acc.iter().enumerate() {
        store_row(row, act, residual.map(|res| res.add(r * ldo)), out.add(r * ldo), cols);
    }
}

/// R rows x 8 columns of output. `cols` < 8 only for the last panel.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro<const R: usize>(a: *const f32, k: usize, panel: *const f32, bias: *const f32, act: Act, residual: Option<*const f32>, out: *mut f32, ldo: usize, cols: usize) {
    let mut acc = tile_init::<R>(bias);
    let mut wp = panel;
    for kk in 0..k {
        k_step(&mut acc, wp, |r| F32x4::load_splat(a.add(r * k + kk)));
        wp = wp.add(NR);
    }
    tile_store(&acc, act, residual, out, ldo, cols);
}

/// R rows x 16 columns: panel `panel` (8 full columns) and the next (`cols2` valid).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro_x16<const R: usize>(a: *const f32, k: usize, panel: *const f32, bias: *const f32, act: Act, residual: Option<*const f32>, out: *mut f32, ldo: usize, cols2: usize) {
    let mut lo = tile_init::<R>(bias);
    let mut hi = tile_init::<R>(bias.add(NR));
    let (mut wp, mut wq) = (panel, panel.add(k * NR));
    for kk in 0..k {
        let av: [F32x4; R] = core::array::from_fn(|r| F32x4::load_splat(a.add(r * k + kk)));
        k_step(&mut lo, wp, |r| av[r]);
        k_step(&mut hi, wq, |r| av[r]);
        wp = wp.add(NR);
        wq = wq.add(NR);
    }
    tile_store(&lo, act, residual, out, ldo, NR);
    tile_store(&hi, act, residual.map(|r| r.add(NR)), out.add(NR), ldo, cols2);
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
        // Every micro-kernel variant: the reference's result, and the same bits as `pointwise`.
        for v in GemmVariant::ALL {
            let mut got_v = vec![f32::NAN; m * n];
            pointwise_variant(v, &a, m, &packed, act, r, &mut got_v);
            crate::kernels::simd::assert_kernel_matches(&got_v, &want, k, &format!("{v:?} m{m} k{k} n{n} {act:?} residual {with_res}"));
            assert!(got_v.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits()), "{v:?} differs from pointwise, m{m} k{k} n{n}");
        }
    }

    /// Shapes that reach each variant's edges: row tails of 1-5 rows, k not a multiple of the
    /// unroll, an odd number of panels, the last panel partial.
    #[test]
    fn variants_on_block_edges() {
        for &(m, k, n) in &[(6, 5, 9), (11, 3, 8), (261, 7, 24), (517, 48, 17), (9, 2049, 20), (13, 6, 16)] {
            check(m, k, n, Act::HardSwish, true);
            check(m, k, n, Act::Relu, false);
        }
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
