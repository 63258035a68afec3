//! The CPU network: the op list ([`OpList`]) with each step's weights packed for its kernel, and
//! the forward pass over a reusable scratch arena (no allocation once the arena is sized for an
//! input size). Everything here walks the op list; nothing re-derives the architecture.

use crate::kernels::attention::{self, attention, AttnDims};
use crate::kernels::conv2d::{conv2d, pack_conv2d, padded_len};
use crate::kernels::depthwise::{depthwise, zeros_len, PackedDepthwise};
use crate::kernels::parallel::{trace, with_team, Out, Team};
use crate::kernels::pointwise::{pointwise, PackedPointwise};
use crate::kernels::pool::avg_pool2;
use crate::kernels::Act;
use crate::kernels::squeeze_excite::{channel_mean, SqueezeExcite};
use crate::model::arch::NetSpec;
use crate::model::ops::{Buf, Op, OpList, StepShape};
use crate::weights::Folded;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One step's parameters, packed for the CPU kernel that runs it.
#[derive(Debug)]
pub enum Kernel {
    /// Full conv: the input patches times a packed GEMM matrix.
    Conv(PackedPointwise),
    /// 1x1 conv or Linear.
    Gemm(PackedPointwise),
    Depthwise(PackedDepthwise),
    SqueezeExcite(SqueezeExcite),
    /// No parameters (pooling).
    None,
}

impl Kernel {
    /// Pack the folded weights of `op` (CPU preparation, separate from loading).
    pub fn prepare(op: &Op, folded: &[Folded]) -> Kernel {
        match op {
            Op::Conv { kernel, weights, .. } => Kernel::Conv(pack_conv2d(&folded[0].w, &folded[0].b, weights.out_chs(), weights.in_chs(), *kernel)),
            Op::Pointwise { weights, .. } | Op::Linear { weights, .. } => {
                Kernel::Gemm(PackedPointwise::new(&folded[0].w, &folded[0].b, weights.in_chs(), weights.out_chs()))
            }
            Op::Depthwise { kernel, weights, .. } => Kernel::Depthwise(PackedDepthwise::new(&folded[0].w, &folded[0].b, weights.out_chs(), *kernel)),
            Op::SqueezeExcite { reduce, reduce_act, expand } => Kernel::SqueezeExcite(SqueezeExcite {
                reduce: PackedPointwise::new(&folded[0].w, &folded[0].b, reduce.in_chs(), reduce.out_chs()),
                reduce_act: *reduce_act,
                expand: PackedPointwise::new(&folded[1].w, &folded[1].b, expand.in_chs(), expand.out_chs()),
            }),
            // The blur's fixed filter, as depthwise weights: [1,2,1]/4 outer [1,2,1]/4 (exact in f32).
            Op::Blur { channels } => {
                let taps = [1.0f32, 2.0, 1.0].map(|v| v / 4.0);
                let tile: Vec<f32> = taps.iter().flat_map(|&a| taps.map(|b| a * b)).collect();
                let filter = tile.repeat(*channels);
                Kernel::Depthwise(PackedDepthwise::new(&filter, &vec![0.0; *channels], *channels, 3))
            }
            Op::GlobalPool | Op::AvgPool2 | Op::Attention { .. } => Kernel::None,
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Kernel::Conv(w) | Kernel::Gemm(w) => w.bytes(),
            Kernel::Depthwise(d) => d.bytes(),
            Kernel::SqueezeExcite(se) => se.reduce.bytes() + se.expand.bytes(),
            Kernel::None => 0,
        }
    }
}

#[derive(Debug)]
pub struct Network {
    pub spec: NetSpec,
    pub ops: OpList,
    /// One per step of `ops`.
    pub kernels: Vec<Kernel>,
}

/// Time spent in one step of a profiled forward pass.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepTime {
    /// timm module path (`blocks.3.1.conv_pw`).
    pub name: String,
    /// Op family (`pointwise`, `depthwise`, ...).
    pub kind: &'static str,
    pub macs: u64,
    pub ms: f64,
}

/// Activation buffers, sized for one input resolution and reused across calls.
#[derive(Default)]
pub struct Scratch {
    size: (usize, usize),
    shapes: Vec<StepShape>,
    /// Indexed by [`Buf::index`] (`Input` stays empty).
    bufs: [Vec<f32>; Buf::COUNT],
    cols: Vec<f32>,
    /// Attention: keys transposed + per-thread score rows.
    attn: Vec<f32>,
    se: Vec<f32>,
    row_sums: Vec<f32>,
    zeros: Vec<f32>,
    /// Threads that ran the last forward pass (1 when it ran alone).
    pub team_size: usize,
}

impl Scratch {
    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        4 * (self.bufs.iter().map(Vec::capacity).sum::<usize>() + [&self.cols, &self.attn, &self.se, &self.row_sums, &self.zeros].iter().map(|v| v.capacity()).sum::<usize>())
    }

    /// Contents of an arena buffer after a forward pass (`Logits`, `Embedding`, ...).
    pub fn buf(&self, b: Buf) -> &[f32] {
        &self.bufs[b.index()]
    }
}

/// The arena as raw buffers that every team member may use: within a stage each buffer is
/// either only read, or written in disjoint parts.
#[derive(Clone, Copy)]
struct Arena {
    bufs: [Out; Buf::COUNT],
    cols: Out,
    attn: Out,
    se: Out,
    row_sums: Out,
    zeros: Out,
}

/// Read view of the first `n` floats of a buffer.
///
/// # Safety
/// No stage may write the buffer while the view is alive.
unsafe fn view<'a>(o: Out, n: usize) -> &'a [f32] {
    assert!(n <= o.len);
    std::slice::from_raw_parts(o.ptr(), n)
}

/// Fallible, so that an arena too big for the memory (wasm's maximum) is an error at load.
fn grow(v: &mut Vec<f32>, n: usize) -> std::result::Result<(), std::collections::TryReserveError> {
    if v.len() < n {
        v.try_reserve_exact(n - v.len())?;
        v.resize(n, 0.0);
    }
    Ok(())
}

impl Network {
    /// Pack loaded weights (one `Vec<Folded>` per step, as [`crate::weights::load_weights`]
    /// returns them) for the CPU kernels.
    pub fn prepare(spec: NetSpec, ops: OpList, folded: Vec<Vec<Folded>>) -> Network {
        assert_eq!(folded.len(), ops.steps.len());
        let kernels = ops.steps.iter().zip(&folded).map(|(s, f)| Kernel::prepare(&s.op, f)).collect();
        Network { spec, ops, kernels }
    }

    /// Size the arena for an `h` x `w` input (a panic if it does not fit: callers that can
    /// report the error use [`try_reserve`](Self::try_reserve) first).
    pub fn reserve(&self, scratch: &mut Scratch, h: usize, w: usize) {
        if let Err(e) = self.try_reserve(scratch, h, w) {
            panic!("{e}");
        }
    }

    /// Size the arena for an `h` x `w` input, or `OutOfMemory` when it cannot be allocated.
    pub fn try_reserve(&self, scratch: &mut Scratch, h: usize, w: usize) -> crate::Result<()> {
        // Squeeze-excite keeps one mean vector per team member.
        let threads = rayon::current_num_threads();
        let se_len = self.kernels.iter().filter_map(|k| if let Kernel::SqueezeExcite(se) = k { Some(se.scratch_len(threads)) } else { None }).max().unwrap_or(0);
        let oom = |floats: usize| {
            crate::Error::OutOfMemory(format!(
                "the activations for a {h}x{w} input need {} MiB, more than this build can allocate; use a smaller input_size",
                (floats * 4) >> 20
            ))
        };
        grow(&mut scratch.se, se_len).map_err(|_| oom(se_len))?;
        if scratch.size == (h, w) {
            // The attention scratch also grows with the pool.
            let attn = self.attn_scratch_len(&scratch.shapes, threads);
            return grow(&mut scratch.attn, attn).map_err(|_| oom(attn));
        }
        let shapes = self.ops.shapes(h, w);
        let lens = self.ops.buffer_lens(&shapes);
        let (mut cols, mut zeros, mut sums) = (0, 0, 0);
        let attn = self.attn_scratch_len(&shapes, threads);
        for (step, s) in self.ops.steps.iter().zip(&shapes) {
            match step.op {
                Op::Conv { .. } => cols = cols.max(padded_len(&self.ops.geometry(step, s.input).unwrap(), s.input.c)),
                Op::Blur { .. } => zeros = zeros.max(zeros_len(&self.ops.geometry(step, s.input).unwrap(), s.input.c)),
                Op::Depthwise { channel_sums, .. } => {
                    zeros = zeros.max(zeros_len(&self.ops.geometry(step, s.input).unwrap(), s.input.c));
                    if channel_sums {
                        sums = sums.max(s.output.h * s.output.c);
                    }
                }
                _ => {}
            }
        }
        let total = lens.iter().sum::<usize>() + cols + zeros + sums + attn;
        for (b, &n) in lens.iter().enumerate() {
            grow(&mut scratch.bufs[b], n).map_err(|_| oom(total))?;
        }
        grow(&mut scratch.cols, cols).map_err(|_| oom(total))?;
        grow(&mut scratch.attn, attn).map_err(|_| oom(total))?;
        grow(&mut scratch.zeros, zeros).map_err(|_| oom(total))?;
        grow(&mut scratch.row_sums, sums).map_err(|_| oom(total))?;
        scratch.shapes = shapes;
        scratch.size = (h, w);
        Ok(())
    }

    /// Forward pass on an `h` x `w` x 3 NHWC input (already normalized). Results are left in
    /// `scratch.buf(Buf::Logits)` and `scratch.buf(Buf::Embedding)`.
    pub fn forward(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch) {
        self.forward_with(input, h, w, scratch, None::<fn(Option<usize>, &Team)>);
    }

    /// Per-step timing of one forward pass; `now` is a clock in milliseconds, called by every
    /// team member as it leaves each step (in the threaded wasm build, on pool workers: the
    /// clock must share one origin across them). A step ends at the earliest such call: no
    /// member leaves a step before its last task finished, and a member that was descheduled
    /// and skips finished steps leaves them late, so reading one fixed member's clock would
    /// give its stalls to whichever step it happened to be in.
    pub fn profile(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch, now: impl Fn() -> f64 + Sync) -> Vec<StepTime> {
        // Lock-free: the members leave a step at the same moment, and behind a lock one of them
        // blocked and waited to be woken (2-thread wasm profiles summed to 13.1 ms for a 10.2 ms
        // pass in Chromium).
        let slots: Vec<AtomicU64> = (0..=self.ops.steps.len()).map(|_| AtomicU64::new(f64::INFINITY.to_bits())).collect();
        self.forward_with(
            input,
            h,
            w,
            scratch,
            Some(|step: Option<usize>, _: &Team| {
                // The clock is never negative, and non-negative f64s order as their bits do.
                let t = now().max(0.0);
                slots[step.map_or(0, |i| i + 1)].fetch_min(t.to_bits(), Relaxed);
            }),
        );
        let ends: Vec<f64> = slots.iter().map(|s| f64::from_bits(s.load(Relaxed))).collect();
        self.ops
            .steps
            .iter()
            .zip(&scratch.shapes)
            .zip(ends.windows(2))
            .map(|((step, s), e)| StepTime { name: step.name.clone(), kind: step.op.kind(), macs: s.macs, ms: e[1] - e[0] })
            .collect()
    }

    /// The stage trace of one forward pass ([`trace`](crate::kernels::parallel::trace)): when
    /// each team member reached and left each stage, how it waited, its time in tasks; each
    /// stage tagged with its step. `clock` is in milliseconds, one origin on every thread. Empty
    /// when the pass ran alone. Not reentrant: one traced pass at a time per process.
    pub fn trace_stages(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch, clock: fn() -> f64) -> trace::Pass {
        // Stages begun when each step ends (every member counts alike).
        let ends: Vec<AtomicU64> = (0..self.ops.steps.len()).map(|_| AtomicU64::new(0)).collect();
        trace::start(clock);
        self.forward_with(
            input,
            h,
            w,
            scratch,
            Some(|step: Option<usize>, team: &Team| {
                if let Some(i) = step {
                    ends[i].store(team.stages_begun(), Relaxed);
                }
            }),
        );
        let mut pass = trace::stop();
        let ends: Vec<u64> = ends.iter().map(|e| e.load(Relaxed)).collect();
        for (k, stage) in pass.stages.iter_mut().enumerate() {
            stage.step = ends.partition_point(|&e| e <= k as u64);
        }
        pass
    }

    /// Forward pass calling `after(None, team)` when a member starts and `after(Some(i), team)`
    /// when it leaves step `i` (on every team member, concurrently).
    fn forward_with(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch, after: Option<impl Fn(Option<usize>, &Team) + Sync>) {
        assert_eq!(input.len(), h * w * 3, "forward: input must be h*w*3 floats");
        self.reserve(scratch, h, w);
        let mut bufs = [Out::new(&mut []); Buf::COUNT];
        for (o, v) in bufs.iter_mut().zip(scratch.bufs.iter_mut()) {
            *o = Out::new(v);
        }
        let arena = Arena {
            bufs,
            cols: Out::new(&mut scratch.cols),
            attn: Out::new(&mut scratch.attn),
            se: Out::new(&mut scratch.se),
            row_sums: Out::new(&mut scratch.row_sums),
            zeros: Out::new(&mut scratch.zeros),
        };
        let shapes = &scratch.shapes;
        scratch.team_size = with_team(|team| {
            let mut report = |step: Option<usize>| {
                if let Some(a) = &after {
                    a(step, team);
                }
            };
            // SAFETY: the arena buffers are sized by `reserve` and stay alive (borrowed from
            // `scratch`) for the whole team run; `run` keeps the stage discipline of `view`.
            unsafe { self.run(team, input, shapes, arena, &mut report) };
        });
    }

    /// The forward pass: every team member executes the steps in order, each step one or more
    /// team stages.
    unsafe fn run(&self, team: &Team, input: &[f32], shapes: &[StepShape], arena: Arena, after: &mut dyn FnMut(Option<usize>)) {
        let zeros = view(arena.zeros, arena.zeros.len);
        let buf = |b: Buf| arena.bufs[b.index()];
        after(None);
        for (i, ((step, kernel), s)) in self.ops.steps.iter().zip(&self.kernels).zip(shapes).enumerate() {
            let src = || if step.input == Buf::Input { input } else { view(buf(step.input), s.input.len()) };
            let out = buf(step.output);
            let hw_in = s.input.h * s.input.w;
            match (&step.op, kernel) {
                (Op::Conv { act, .. }, Kernel::Conv(w)) => {
                    conv2d(team, src(), &self.ops.geometry(step, s.input).unwrap(), s.input.c, w, *act, arena.cols, out);
                }
                (Op::Pointwise { act, residual, .. }, Kernel::Gemm(w)) => {
                    let residual = residual.map(|r| view(buf(r), s.output.len()));
                    pointwise(team, src(), hw_in, w, *act, residual, out);
                }
                (Op::Depthwise { act, channel_sums, .. }, Kernel::Depthwise(d)) => {
                    let g = self.ops.geometry(step, s.input).unwrap();
                    depthwise(team, src(), &g, d, *act, zeros, out, channel_sums.then_some(arena.row_sums));
                }
                (Op::SqueezeExcite { .. }, Kernel::SqueezeExcite(se)) => {
                    let o = s.output;
                    se.apply(team, out, o.h * o.w, view(arena.row_sums, o.h * o.c), o.h, arena.se);
                }
                (Op::GlobalPool, Kernel::None) => channel_mean(team, src(), hw_in, s.input.c, out),
                (Op::AvgPool2, Kernel::None) => avg_pool2(team, src(), s.input.h, s.input.w, s.input.c, out),
                (Op::Blur { .. }, Kernel::Depthwise(d)) => {
                    depthwise(team, src(), &self.ops.geometry(step, s.input).unwrap(), d, Act::Identity, zeros, out, None);
                }
                (Op::Linear { act, .. }, Kernel::Gemm(w)) => pointwise(team, src(), 1, w, *act, None, out),
                (Op::Attention { key, value, .. }, Kernel::None) => {
                    let dims = self.attn_dims(i, shapes);
                    let k = view(buf(*key), dims.kv_len * dims.key_dim);
                    let v = view(buf(*value), dims.kv_len * dims.value_dim);
                    attention(team, src(), k, v, dims, arena.attn, out);
                }
                _ => unreachable!("step {} has no matching kernel", step.name),
            }
            after(Some(i));
        }
    }

    /// Floats of attention scratch for `threads` team members.
    fn attn_scratch_len(&self, shapes: &[StepShape], threads: usize) -> usize {
        let steps = self.ops.steps.iter().enumerate();
        steps.filter(|(_, s)| matches!(s.op, Op::Attention { .. })).map(|(i, _)| attention::scratch_len(self.attn_dims(i, shapes), threads)).max().unwrap_or(0)
    }

    /// Sizes of the attention step `i` (queries as rows of pixels x heads).
    fn attn_dims(&self, i: usize, shapes: &[StepShape]) -> AttnDims {
        let Op::Attention { heads, key_dim, value_dim, key, .. } = self.ops.steps[i].op else { unreachable!("step {i} is not attention") };
        let kv = self.ops.written(key, &shapes[..i]).expect("attention keys");
        let q = shapes[i].input;
        AttnDims { rows: q.h * q.w * heads, key_dim, kv_len: kv.h * kv.w, value_dim }
    }

    /// Bytes of packed parameters.
    pub fn param_bytes(&self) -> usize {
        self.kernels.iter().map(Kernel::bytes).sum()
    }
}
