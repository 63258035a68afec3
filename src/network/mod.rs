//! The assembled network: folded, packed layers in execution order, and the forward pass over a
//! reusable scratch arena (no allocation once the arena is sized for an input size).

use crate::kernels::conv2d::{conv2d, padded_len};
use crate::kernels::depthwise::{depthwise, zeros_len, PackedDepthwise};
use crate::kernels::parallel::{with_team, Out, Team};
use crate::kernels::pointwise::{pointwise, PackedPointwise};
use crate::kernels::squeeze_excite::{channel_mean, SqueezeExcite};
use crate::kernels::{Act, ConvGeometry};
use std::sync::Mutex;
use crate::model::arch::{BlockKind, BlockSpec, NetSpec};

/// One block: [expand 1x1] -> depthwise -> [SE] -> project 1x1 (+ skip), or a lone 1x1 (`cn`).
#[derive(Debug)]
pub struct Block {
    pub spec: BlockSpec,
    pub expand: Option<PackedPointwise>,
    pub depthwise: Option<PackedDepthwise>,
    pub se: Option<SqueezeExcite>,
    pub project: PackedPointwise,
    pub project_act: Act,
}

#[derive(Debug)]
pub struct Network {
    pub spec: NetSpec,
    pub stem: PackedPointwise,
    pub blocks: Vec<Block>,
    pub head: PackedPointwise,
    pub classifier: PackedPointwise,
}

/// Kind of an executed op, for per-layer profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Marks the start of the pass (no work); lets callers take a first timestamp.
    Start,
    Stem,
    Pointwise,
    Depthwise,
    SqueezeExcite,
    Pool,
    Head,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Start => "start",
            OpKind::Stem => "stem",
            OpKind::Pointwise => "pointwise",
            OpKind::Depthwise => "depthwise",
            OpKind::SqueezeExcite => "squeeze_excite",
            OpKind::Pool => "pool",
            OpKind::Head => "head",
        }
    }
}

/// Reported after each op of a profiled forward pass.
#[derive(Clone, Copy, Debug)]
pub struct OpEvent<'a> {
    /// timm module path prefix (`blocks.3.1`), empty for stem/head ops.
    pub block: &'a str,
    /// timm module name within it (`conv_pw`, `conv_dw`, `se`, `conv_pwl`, `conv_stem`, ...).
    pub op: &'static str,
    pub kind: OpKind,
    pub macs: u64,
}

/// Activation buffers, sized for one input resolution and reused across calls.
#[derive(Default)]
pub struct Scratch {
    size: (usize, usize),
    x: Vec<f32>,
    y: Vec<f32>,
    expanded: Vec<f32>,
    dw: Vec<f32>,
    cols: Vec<f32>,
    se: Vec<f32>,
    row_sums: Vec<f32>,
    pooled: Vec<f32>,
    zeros: Vec<f32>,
    pub embedding: Vec<f32>,
    pub logits: Vec<f32>,
    /// Threads that ran the last forward pass (1 when it ran alone).
    pub team_size: usize,
}

/// The arena as raw buffers that every team member may use: within a stage each buffer is
/// either only read, or written in disjoint parts.
#[derive(Clone, Copy)]
struct Arena {
    x: Out,
    y: Out,
    expanded: Out,
    dw: Out,
    cols: Out,
    se: Out,
    row_sums: Out,
    pooled: Out,
    zeros: Out,
    embedding: Out,
    logits: Out,
}

/// Read view of the first `n` floats of a buffer.
///
/// # Safety
/// No stage may write the buffer while the view is alive.
unsafe fn view<'a>(o: Out, n: usize) -> &'a [f32] {
    assert!(n <= o.len);
    std::slice::from_raw_parts(o.ptr(), n)
}

impl Scratch {
    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        4 * [&self.x, &self.y, &self.expanded, &self.dw, &self.cols, &self.se, &self.row_sums, &self.pooled, &self.zeros, &self.embedding, &self.logits]
            .iter()
            .map(|v| v.capacity())
            .sum::<usize>()
    }
}

fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

impl Network {
    /// Size the arena for an `h` x `w` input.
    pub fn prepare(&self, scratch: &mut Scratch, h: usize, w: usize) {
        // Squeeze-excite keeps one mean vector per team member.
        let threads = rayon::current_num_threads();
        let se_len = self.blocks.iter().filter_map(|b| b.se.as_ref()).map(|se| se.scratch_len(threads)).max().unwrap_or(0);
        grow(&mut scratch.se, se_len);
        if scratch.size == (h, w) {
            return;
        }
        let pad = self.spec.padding;
        let g = ConvGeometry::new(h, w, 3, 2, pad);
        let (mut ch, mut cw) = (g.out_h, g.out_w);
        let mut io = ch * cw * self.spec.stem_chs;
        let (mut exp, mut dw, mut sums, mut zeros) = (0, 0, 0, 0);
        for b in &self.blocks {
            let s = &b.spec;
            exp = exp.max(ch * cw * s.mid_chs);
            if s.kind != BlockKind::ConvBnAct {
                let g = ConvGeometry::new(ch, cw, s.kernel, s.stride, pad);
                zeros = zeros.max(zeros_len(&g, s.mid_chs));
                (ch, cw) = (g.out_h, g.out_w);
                dw = dw.max(ch * cw * s.mid_chs);
                if s.se.is_some() {
                    sums = sums.max(ch * s.mid_chs);
                }
            }
            io = io.max(ch * cw * s.out_chs);
        }
        grow(&mut scratch.x, io);
        grow(&mut scratch.y, io);
        grow(&mut scratch.expanded, exp);
        grow(&mut scratch.dw, dw);
        grow(&mut scratch.row_sums, sums);
        grow(&mut scratch.pooled, self.spec.num_features);
        grow(&mut scratch.embedding, self.spec.head_chs);
        grow(&mut scratch.logits, self.spec.num_classes);
        grow(&mut scratch.cols, padded_len(&g, 3));
        grow(&mut scratch.zeros, zeros);
        scratch.size = (h, w);
    }

    /// Forward pass on an `h` x `w` x 3 NHWC input (already normalized). Results are left in
    /// `scratch.logits[..num_classes]` and `scratch.embedding[..head_chs]`.
    pub fn forward(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch) {
        self.forward_profiled(input, h, w, scratch, |_| {});
    }

    /// As [`forward`](Self::forward), calling `on_op` after every op (for per-layer timing; it
    /// runs on one team member, right after the op's last task finished).
    pub fn forward_profiled(&self, input: &[f32], h: usize, w: usize, scratch: &mut Scratch, on_op: impl FnMut(OpEvent) + Send) {
        assert_eq!(input.len(), h * w * 3, "forward: input must be h*w*3 floats");
        self.prepare(scratch, h, w);
        let arena = Arena {
            x: Out::new(&mut scratch.x),
            y: Out::new(&mut scratch.y),
            expanded: Out::new(&mut scratch.expanded),
            dw: Out::new(&mut scratch.dw),
            cols: Out::new(&mut scratch.cols),
            se: Out::new(&mut scratch.se),
            row_sums: Out::new(&mut scratch.row_sums),
            pooled: Out::new(&mut scratch.pooled),
            zeros: Out::new(&mut scratch.zeros),
            embedding: Out::new(&mut scratch.embedding),
            logits: Out::new(&mut scratch.logits),
        };
        let on_op = Mutex::new(on_op);
        scratch.team_size = with_team(|team| {
            let mut report = |ev: OpEvent| {
                if team.index == 0 {
                    (on_op.lock().unwrap_or_else(|e| e.into_inner()))(ev);
                }
            };
            // SAFETY: the arena buffers are sized by `prepare` and stay alive (borrowed from
            // `scratch`) for the whole team run; `run` keeps the stage discipline of `view`.
            unsafe { self.run(team, input, h, w, arena, &mut report) };
        });
    }

    /// The forward pass as a sequence of team stages (every member executes this same code).
    unsafe fn run(&self, team: &Team, input: &[f32], h: usize, w: usize, arena: Arena, on_op: &mut dyn FnMut(OpEvent)) {
        let pad = self.spec.padding;
        let act = self.spec.act;
        let Arena { mut x, mut y, expanded, dw, cols, se, row_sums, pooled, zeros, embedding, logits } = arena;
        let zeros = view(zeros, zeros.len);
        on_op(OpEvent { block: "", op: "start", kind: OpKind::Start, macs: 0 });

        let g = ConvGeometry::new(h, w, 3, 2, pad);
        conv2d(team, input, &g, 3, &self.stem, act, cols, x);
        let (mut ch, mut cw, mut c) = (g.out_h, g.out_w, self.spec.stem_chs);
        on_op(OpEvent { block: "", op: "conv_stem", kind: OpKind::Stem, macs: (g.out_h * g.out_w * 27 * c) as u64 });

        for b in &self.blocks {
            let s = &b.spec;
            let hw_in = ch * cw;
            let mid_src: &[f32] = match &b.expand {
                Some(e) => {
                    pointwise(team, view(x, hw_in * c), hw_in, e, s.act, None, expanded);
                    on_op(OpEvent { block: &s.prefix, op: "conv_pw", kind: OpKind::Pointwise, macs: (hw_in * e.k * e.n) as u64 });
                    view(expanded, hw_in * s.mid_chs)
                }
                None => view(x, hw_in * c),
            };
            let (src, hw_out) = match &b.depthwise {
                Some(d) => {
                    let g = ConvGeometry::new(ch, cw, s.kernel, s.stride, pad);
                    depthwise(team, mid_src, &g, d, s.act, zeros, dw, b.se.as_ref().map(|_| row_sums));
                    (ch, cw) = (g.out_h, g.out_w);
                    let hw = ch * cw;
                    on_op(OpEvent { block: &s.prefix, op: "conv_dw", kind: OpKind::Depthwise, macs: (hw * s.mid_chs * s.kernel * s.kernel) as u64 });
                    if let Some(se_mod) = &b.se {
                        se_mod.apply(team, dw, hw, view(row_sums, ch * s.mid_chs), ch, se);
                        on_op(OpEvent { block: &s.prefix, op: "se", kind: OpKind::SqueezeExcite, macs: (2 * hw * s.mid_chs) as u64 });
                    }
                    (view(dw, hw * s.mid_chs), hw)
                }
                None => (view(x, hw_in * c), hw_in),
            };
            let residual = if s.skip { Some(view(x, hw_out * s.out_chs)) } else { None };
            pointwise(team, &src[..hw_out * b.project.k], hw_out, &b.project, b.project_act, residual, y);
            let op = if s.kind == BlockKind::ConvBnAct { "conv" } else if s.kind == BlockKind::InvertedResidual { "conv_pwl" } else { "conv_pw" };
            on_op(OpEvent { block: &s.prefix, op, kind: OpKind::Pointwise, macs: (hw_out * b.project.k * b.project.n) as u64 });
            std::mem::swap(&mut x, &mut y);
            c = s.out_chs;
        }

        channel_mean(team, view(x, ch * cw * c), ch * cw, c, pooled);
        on_op(OpEvent { block: "", op: "global_pool", kind: OpKind::Pool, macs: (ch * cw * c) as u64 });
        pointwise(team, view(pooled, c), 1, &self.head, act, None, embedding);
        on_op(OpEvent { block: "", op: "conv_head", kind: OpKind::Head, macs: (self.head.k * self.head.n) as u64 });
        pointwise(team, view(embedding, self.head.n), 1, &self.classifier, Act::Identity, None, logits);
        on_op(OpEvent { block: "", op: "classifier", kind: OpKind::Head, macs: (self.classifier.k * self.classifier.n) as u64 });
    }

    /// Bytes of packed parameters.
    pub fn param_bytes(&self) -> usize {
        let mut n = self.stem.bytes() + self.head.bytes() + self.classifier.bytes();
        for b in &self.blocks {
            n += b.expand.as_ref().map_or(0, |e| e.bytes()) + b.depthwise.as_ref().map_or(0, |d| d.bytes()) + b.project.bytes();
            if let Some(se) = &b.se {
                n += se.reduce.bytes() + se.expand.bytes();
            }
        }
        n
    }
}
