//! The network as a list of operations: built once from the decoded architecture ([`NetSpec`]),
//! one function per block kind. Every step carries its timm tensor names, the buffers it reads
//! and writes and its MACs; the weight loader, the CPU preparation, the arena sizing, the MAC
//! count, the profiler and the execution loop all read this list and nothing else.
//!
//! Shapes depend on the input size, so the list stores what a step does (channels, kernel,
//! stride) and [`OpList::shapes`] walks it once per input size.

use crate::kernels::{Act, ConvGeometry, Padding};
use crate::model::arch::{AntiAlias, BlockKind, BlockSpec, NetSpec};
use serde::Serialize;

/// Activation buffers of the arena. Block inputs alternate between `X` and `Y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Buf {
    /// The caller's preprocessed image (read only).
    Input,
    X,
    Y,
    /// Output of a block's 1x1 expansion.
    Expanded,
    /// Output of a block's depthwise conv (squeeze-excite gates it in place).
    Dw,
    Pooled,
    Embedding,
    Logits,
    /// Attention blocks: the normalized block input, the query, key and value projections and
    /// the attention output (key/value downsampling goes through `Dw`).
    Normed,
    Query,
    Key,
    Value,
    Attention,
}

impl Buf {
    /// Number of buffers (`Input` included, as an empty slot).
    pub const COUNT: usize = 13;
    /// The buffers the arena holds (all but `Input`).
    pub const ARENA: [Buf; Buf::COUNT - 1] = [
        Buf::X,
        Buf::Y,
        Buf::Expanded,
        Buf::Dw,
        Buf::Pooled,
        Buf::Embedding,
        Buf::Logits,
        Buf::Normed,
        Buf::Query,
        Buf::Key,
        Buf::Value,
        Buf::Attention,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where a step's parameters live in timm's state_dict and how they fold: `{conv}.weight` of
/// PyTorch shape `shape`, then either BatchNorm `{bn}` folded in, or its own `{conv}.bias`, or
/// no bias; then a layer scale `{layer_scale}` multiplied into every output channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Weights {
    pub conv: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bn: Option<String>,
    pub bias: bool,
    /// [out, in/groups, k, k] for convs, [out, in] for Linear.
    pub shape: Vec<usize>,
    /// No `{conv}.weight`: a BatchNorm alone, as a 1x1 depthwise of weight 1 with `bn` folded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub norm_only: bool,
    /// `{layer_scale}.gamma` scales the output channels (folded into weights and bias).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_scale: Option<String>,
}

impl Weights {
    fn conv_bn(conv: String, bn: String, out: usize, inp: usize, k: usize) -> Weights {
        Weights { conv, bn: Some(bn), bias: false, shape: vec![out, inp, k, k], norm_only: false, layer_scale: None }
    }
    fn conv(conv: String, out: usize, inp: usize, bias: bool) -> Weights {
        Weights { conv, bn: None, bias, shape: vec![out, inp, 1, 1], norm_only: false, layer_scale: None }
    }
    fn linear(conv: String, out: usize, inp: usize) -> Weights {
        Weights { conv, bn: None, bias: true, shape: vec![out, inp], norm_only: false, layer_scale: None }
    }
    fn norm(bn: String, chs: usize) -> Weights {
        Weights { conv: bn.clone(), bn: Some(bn), bias: false, shape: vec![chs, 1, 1, 1], norm_only: true, layer_scale: None }
    }
    fn scaled(self, layer_scale: Option<String>) -> Weights {
        Weights { layer_scale, ..self }
    }
    pub fn out_chs(&self) -> usize {
        self.shape[0]
    }
    pub fn in_chs(&self) -> usize {
        self.shape[1]
    }
}

/// What a step computes. Activations and residual adds are fused into the op before them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Full k x k convolution (groups = 1) + bias + act.
    Conv { kernel: usize, stride: usize, weights: Weights, act: Act },
    /// 1x1 convolution + bias + act, plus `residual` (the block input) when set.
    Pointwise { weights: Weights, act: Act, residual: Option<Buf> },
    /// Depthwise k x k convolution + bias + act; with `channel_sums` it also leaves per-row
    /// channel sums for the squeeze-excite right after it.
    Depthwise { kernel: usize, stride: usize, weights: Weights, act: Act, channel_sums: bool },
    /// Squeeze-excite in place: mean (from the depthwise's sums) -> 1x1 + act -> 1x1 +
    /// hard-sigmoid -> scale.
    SqueezeExcite { reduce: Weights, reduce_act: Act, expand: Weights },
    /// Global average pool to one pixel.
    GlobalPool,
    /// 2x2 average pool, stride 2 (anti-aliased downsampling).
    AvgPool2,
    /// Fixed 3x3 binomial blur ([1,2,1] x [1,2,1] / 16) per channel, stride 2, zero padding 1
    /// (anti-aliased downsampling; not in the weights file).
    Blur { channels: usize },
    /// Matrix-vector product on a pooled vector (head 1x1 conv, classifier) + bias + act.
    Linear { weights: Weights, act: Act },
    /// Multi-query attention: softmax(Q K^T / sqrt(key_dim)) V with the query (the step's
    /// input) in `heads` heads and one key/value head (`key`, `value` buffers) shared by all.
    Attention { heads: usize, key_dim: usize, value_dim: usize, key: Buf, value: Buf },
}

impl Op {
    /// Profile family name.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "conv",
            Op::Pointwise { .. } => "pointwise",
            Op::Depthwise { .. } => "depthwise",
            Op::SqueezeExcite { .. } => "squeeze_excite",
            Op::GlobalPool | Op::AvgPool2 => "pool",
            Op::Blur { .. } => "depthwise",
            Op::Linear { .. } => "linear",
            Op::Attention { .. } => "attention",
        }
    }

    /// Every parameter tensor group of the op, in loading order.
    pub fn weights(&self) -> Vec<&Weights> {
        match self {
            Op::Conv { weights, .. } | Op::Pointwise { weights, .. } | Op::Depthwise { weights, .. } | Op::Linear { weights, .. } => vec![weights],
            Op::SqueezeExcite { reduce, expand, .. } => vec![reduce, expand],
            Op::GlobalPool | Op::AvgPool2 | Op::Blur { .. } | Op::Attention { .. } => vec![],
        }
    }
}

/// Height, width, channels of an NHWC activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// timm module path (`blocks.3.1.conv_pw`, `conv_stem`, `classifier`).
    pub name: String,
    #[serde(flatten)]
    pub op: Op,
    pub input: Buf,
    pub output: Buf,
}

/// A step with its shapes and cost at one input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StepShape {
    pub input: Shape,
    pub output: Shape,
    pub macs: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpList {
    pub name: String,
    pub padding: Padding,
    pub bn_eps: f64,
    pub steps: Vec<Step>,
}

impl OpList {
    /// Lay out the network of `spec` as steps.
    pub fn build(spec: &NetSpec) -> OpList {
        let mut b = Builder { steps: Vec::new(), cur: Buf::X, aa: spec.aa };
        b.stem(spec);
        for block in &spec.blocks {
            match block.kind {
                BlockKind::InvertedResidual => b.inverted_residual(block),
                BlockKind::DepthwiseSeparable => b.depthwise_separable(block),
                BlockKind::ConvBnAct => b.conv_bn_act(block),
                BlockKind::EdgeResidual => b.edge_residual(block),
                BlockKind::UniversalInvertedResidual => b.universal_inverted_residual(block),
                BlockKind::MultiQueryAttention => b.multi_query_attention(block),
            }
        }
        b.head(spec);
        OpList { name: spec.name.clone(), padding: spec.padding, bn_eps: spec.bn_eps, steps: b.steps }
    }

    /// Geometry of a strided/padded step on an input of `h` x `w`.
    pub fn geometry(&self, step: &Step, input: Shape) -> Option<ConvGeometry> {
        match step.op {
            Op::Conv { kernel, stride, .. } | Op::Depthwise { kernel, stride, .. } => Some(ConvGeometry::new(input.h, input.w, kernel, stride, self.padding)),
            // timm's BlurPool2d pads by 1 on every side whatever the model's padding.
            Op::Blur { .. } => Some(ConvGeometry::new(input.h, input.w, 3, 2, Padding::Symmetric)),
            _ => None,
        }
    }

    /// Shapes and MACs of every step for an `h` x `w` input.
    pub fn shapes(&self, h: usize, w: usize) -> Vec<StepShape> {
        let mut out: Vec<StepShape> = Vec::with_capacity(self.steps.len());
        let of = |buf: Buf, out: &[StepShape]| -> Shape { self.written(buf, out).unwrap_or(Shape { h, w, c: 3 }) };
        for step in &self.steps {
            let input = of(step.input, &out);
            let (output, macs) = match &step.op {
                Op::Conv { kernel, weights, .. } => {
                    let g = self.geometry(step, input).unwrap();
                    let o = Shape { h: g.out_h, w: g.out_w, c: weights.out_chs() };
                    (o, (o.h * o.w * o.c * input.c * kernel * kernel) as u64)
                }
                Op::Pointwise { weights, .. } => {
                    let o = Shape { c: weights.out_chs(), ..input };
                    (o, (o.h * o.w * o.c * input.c) as u64)
                }
                Op::Depthwise { kernel, .. } => {
                    let g = self.geometry(step, input).unwrap();
                    let o = Shape { h: g.out_h, w: g.out_w, c: input.c };
                    (o, (o.len() * kernel * kernel) as u64)
                }
                // Two matrix-vector products plus the per-pixel scale (the mean is summed by
                // the depthwise before it).
                Op::SqueezeExcite { reduce, .. } => (input, (2 * input.c * reduce.out_chs() + input.len()) as u64),
                Op::GlobalPool => (Shape { h: 1, w: 1, c: input.c }, input.len() as u64),
                Op::AvgPool2 => (Shape { h: input.h / 2, w: input.w / 2, c: input.c }, input.len() as u64),
                Op::Blur { .. } => {
                    let g = self.geometry(step, input).unwrap();
                    let o = Shape { h: g.out_h, w: g.out_w, c: input.c };
                    (o, (o.len() * 9) as u64)
                }
                Op::Linear { weights, .. } => {
                    let o = Shape { h: 1, w: 1, c: weights.out_chs() };
                    (o, (weights.in_chs() * weights.out_chs()) as u64)
                }
                // Scores and the value product; the softmax is counted as one MAC per score.
                Op::Attention { heads, key_dim, value_dim, key, .. } => {
                    let kv = of(*key, &out);
                    let scores = input.h * input.w * heads * kv.h * kv.w;
                    (Shape { c: heads * value_dim, ..input }, (scores * (key_dim + value_dim + 1)) as u64)
                }
            };
            out.push(StepShape { input, output, macs });
        }
        out
    }

    /// Shape of `buf` as the last of the steps `shapes` describes (a prefix of the list) left
    /// it; None for the network input.
    pub fn written(&self, buf: Buf, shapes: &[StepShape]) -> Option<Shape> {
        if buf == Buf::Input {
            return None;
        }
        let i = self.steps[..shapes.len()].iter().rposition(|s| s.output == buf).expect("op list reads a buffer before writing it");
        Some(shapes[i].output)
    }

    /// Multiply-accumulates of one forward pass at `h` x `w`.
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        self.shapes(h, w).iter().map(|s| s.macs).sum()
    }

    /// Floats each arena buffer needs at `h` x `w` (indexed by [`Buf::index`]).
    pub fn buffer_lens(&self, shapes: &[StepShape]) -> [usize; Buf::COUNT] {
        let mut lens = [0; Buf::COUNT];
        for (step, s) in self.steps.iter().zip(shapes) {
            let l = &mut lens[step.output.index()];
            *l = (*l).max(s.output.len());
        }
        lens
    }

    /// The op list with shapes and MACs at `size` x `size` (for `mobilenetv3 describe`).
    pub fn describe(&self, size: usize) -> serde_json::Value {
        let shapes = self.shapes(size, size);
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .zip(&shapes)
            .map(|(step, s)| {
                let mut v = serde_json::to_value(step).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("input_shape".into(), serde_json::json!([s.input.h, s.input.w, s.input.c]));
                    o.insert("output_shape".into(), serde_json::json!([s.output.h, s.output.w, s.output.c]));
                    o.insert("macs".into(), s.macs.into());
                }
                v
            })
            .collect();
        serde_json::json!({"input_size": size, "macs": shapes.iter().map(|s| s.macs).sum::<u64>(), "steps": steps})
    }
}

/// The layer scale of a block's output branch, if it has one.
fn layer_scale(b: &BlockSpec) -> Option<String> {
    b.layer_scale.then(|| format!("{}.layer_scale", b.prefix))
}

/// Appends the steps of each block kind; `cur` is the buffer holding the current activation.
struct Builder {
    steps: Vec<Step>,
    cur: Buf,
    aa: Option<AntiAlias>,
}

impl Builder {
    fn push(&mut self, name: String, op: Op, input: Buf, output: Buf) {
        self.steps.push(Step { name, op, input, output });
    }

    /// The buffer the block after the current one writes its output to.
    fn next_io(&self) -> Buf {
        if self.cur == Buf::X {
            Buf::Y
        } else {
            Buf::X
        }
    }

    /// Stride of a block's strided conv: 1 when anti-aliasing does the downsampling after it.
    fn conv_stride(&self, stride: usize) -> usize {
        if self.aa.is_some() {
            1
        } else {
            stride
        }
    }

    /// The anti-aliased downsample after a strided conv (nothing at stride 1 or without aa):
    /// from `src` into `dst`, returning the buffer holding the result.
    fn anti_alias(&mut self, name: String, stride: usize, channels: usize, src: Buf, dst: Buf) -> Buf {
        let op = match self.aa {
            Some(_) if stride == 1 => return src,
            None => return src,
            Some(AntiAlias::AvgPool) => Op::AvgPool2,
            Some(AntiAlias::Blur) => Op::Blur { channels },
        };
        self.push(name, op, src, dst);
        dst
    }

    fn stem(&mut self, spec: &NetSpec) {
        let weights = Weights::conv_bn("conv_stem".into(), "bn1".into(), spec.stem_chs, 3, 3);
        self.push("conv_stem".into(), Op::Conv { kernel: 3, stride: 2, weights, act: spec.act }, Buf::Input, Buf::X);
        self.cur = Buf::X;
    }

    /// Depthwise (+ squeeze-excite) of an `ir` or `ds` block, from `input` into `Dw`.
    fn depthwise_se(&mut self, b: &BlockSpec, input: Buf, bn: &str) {
        let p = &b.prefix;
        let weights = Weights::conv_bn(format!("{p}.conv_dw"), format!("{p}.{bn}"), b.mid_chs, 1, b.kernel);
        let op = Op::Depthwise { kernel: b.kernel, stride: b.stride, weights, act: b.act, channel_sums: b.se.is_some() };
        self.push(format!("{p}.conv_dw"), op, input, Buf::Dw);
        if let Some(se) = &b.se {
            let reduce = Weights::conv(format!("{p}.se.conv_reduce"), se.rd_chs, b.mid_chs, true);
            let expand = Weights::conv(format!("{p}.se.conv_expand"), b.mid_chs, se.rd_chs, true);
            self.push(format!("{p}.se"), Op::SqueezeExcite { reduce, reduce_act: se.act, expand }, Buf::Dw, Buf::Dw);
        }
    }

    /// Closing 1x1 of a block: from `input` into the other io buffer, residual from the block input.
    fn project(&mut self, b: &BlockSpec, conv: &str, bn: &str, (input, in_chs): (Buf, usize), act: Act) {
        let p = &b.prefix;
        let weights = Weights::conv_bn(format!("{p}.{conv}"), format!("{p}.{bn}"), b.out_chs, in_chs, 1);
        let out = self.next_io();
        let residual = b.skip.then_some(self.cur);
        self.push(format!("{p}.{conv}"), Op::Pointwise { weights, act, residual }, input, out);
        self.cur = out;
    }

    /// `ir`: 1x1 expand + act -> depthwise + act -> (SE) -> 1x1 project (+ residual).
    fn inverted_residual(&mut self, b: &BlockSpec) {
        let p = &b.prefix;
        let weights = Weights::conv_bn(format!("{p}.conv_pw"), format!("{p}.bn1"), b.mid_chs, b.in_chs, 1);
        self.push(format!("{p}.conv_pw"), Op::Pointwise { weights, act: b.act, residual: None }, self.cur, Buf::Expanded);
        self.depthwise_se(b, Buf::Expanded, "bn2");
        self.project(b, "conv_pwl", "bn3", (Buf::Dw, b.mid_chs), Act::Identity);
    }

    /// `ds`/`dsa`: depthwise + act -> (SE) -> 1x1 (+ act for `dsa`) (+ residual).
    fn depthwise_separable(&mut self, b: &BlockSpec) {
        self.depthwise_se(b, self.cur, "bn1");
        self.project(b, "conv_pw", "bn2", (Buf::Dw, b.mid_chs), if b.pw_act { b.act } else { Act::Identity });
    }

    /// `cn`: conv + BN + act; a 1x1 as a pointwise step (+ residual), else a full conv.
    fn conv_bn_act(&mut self, b: &BlockSpec) {
        let cur = self.cur;
        if b.kernel == 1 {
            return self.project(b, "conv", "bn1", (cur, b.in_chs), b.act);
        }
        let p = &b.prefix;
        let weights = Weights::conv_bn(format!("{p}.conv"), format!("{p}.bn1"), b.out_chs, b.in_chs, b.kernel);
        let out = self.next_io();
        let conv_out = if self.aa.is_some() && b.stride > 1 { Buf::Expanded } else { out };
        self.push(format!("{p}.conv"), Op::Conv { kernel: b.kernel, stride: self.conv_stride(b.stride), weights, act: b.act }, cur, conv_out);
        self.anti_alias(format!("{p}.aa"), b.stride, b.out_chs, conv_out, out);
        self.cur = out;
    }

    /// `er`: full k x k conv expand + act -> 1x1 project (+ residual).
    fn edge_residual(&mut self, b: &BlockSpec) {
        let p = &b.prefix;
        let weights = Weights::conv_bn(format!("{p}.conv_exp"), format!("{p}.bn1"), b.mid_chs, b.in_chs, b.kernel);
        let op = Op::Conv { kernel: b.kernel, stride: self.conv_stride(b.stride), weights, act: b.act };
        self.push(format!("{p}.conv_exp"), op, self.cur, Buf::Expanded);
        let src = self.anti_alias(format!("{p}.aa"), b.stride, b.mid_chs, Buf::Expanded, Buf::Dw);
        self.project(b, "conv_pwl", "bn2", (src, b.mid_chs), Act::Identity);
    }

    /// `uir`: [depthwise, no act] -> 1x1 expand + act -> [depthwise + act] -> 1x1 project (+
    /// residual). The stride goes to the middle depthwise, or the first when there is none.
    fn universal_inverted_residual(&mut self, b: &BlockSpec) {
        let p = &b.prefix;
        let mut src = self.cur;
        if b.dw_start_kernel > 0 {
            let k = b.dw_start_kernel;
            let stride = if b.kernel == 0 { b.stride } else { 1 };
            let weights = Weights::conv_bn(format!("{p}.dw_start.conv"), format!("{p}.dw_start.bn"), b.in_chs, 1, k);
            let op = Op::Depthwise { kernel: k, stride: self.conv_stride(stride), weights, act: Act::Identity, channel_sums: false };
            self.push(format!("{p}.dw_start"), op, src, Buf::Dw);
            // The output buffer is free until the projection writes it.
            let out = self.next_io();
            src = self.anti_alias(format!("{p}.dw_start.aa"), stride, b.in_chs, Buf::Dw, out);
        }
        let weights = Weights::conv_bn(format!("{p}.pw_exp.conv"), format!("{p}.pw_exp.bn"), b.mid_chs, b.in_chs, 1);
        self.push(format!("{p}.pw_exp"), Op::Pointwise { weights, act: b.act, residual: None }, src, Buf::Expanded);
        src = Buf::Expanded;
        if b.kernel > 0 {
            let weights = Weights::conv_bn(format!("{p}.dw_mid.conv"), format!("{p}.dw_mid.bn"), b.mid_chs, 1, b.kernel);
            let op = Op::Depthwise { kernel: b.kernel, stride: self.conv_stride(b.stride), weights, act: b.act, channel_sums: false };
            self.push(format!("{p}.dw_mid"), op, src, Buf::Dw);
            src = self.anti_alias(format!("{p}.dw_mid.aa"), b.stride, b.mid_chs, Buf::Dw, Buf::Expanded);
        }
        let weights = Weights::conv_bn(format!("{p}.pw_proj.conv"), format!("{p}.pw_proj.bn"), b.out_chs, b.mid_chs, 1).scaled(layer_scale(b));
        let out = self.next_io();
        let residual = b.skip.then_some(self.cur);
        self.push(format!("{p}.pw_proj"), Op::Pointwise { weights, act: Act::Identity, residual }, src, out);
        self.cur = out;
    }

    /// `mqa`: BN -> query 1x1 (heads x key_dim); key and value each [depthwise (kv stride) +
    /// BN] -> 1x1 to key_dim -> attention -> 1x1 output projection x layer scale (+ residual).
    /// The BN runs as its own step: folding it into the projections would be exact, but not
    /// into the zero-padded downsampling convs.
    fn multi_query_attention(&mut self, b: &BlockSpec) {
        let p = &b.prefix;
        let a = b.attn.expect("mqa block without attention spec");
        let c = b.in_chs;
        let dw = |k: usize, stride: usize, weights: Weights| Op::Depthwise { kernel: k, stride, weights, act: Act::Identity, channel_sums: false };
        self.push(format!("{p}.norm"), dw(1, 1, Weights::norm(format!("{p}.norm"), c)), self.cur, Buf::Normed);
        let query = Weights::conv(format!("{p}.attn.query.proj"), a.num_heads * a.key_dim, c, false);
        self.push(format!("{p}.attn.query.proj"), Op::Pointwise { weights: query, act: Act::Identity, residual: None }, Buf::Normed, Buf::Query);
        for (name, dst) in [("key", Buf::Key), ("value", Buf::Value)] {
            let mut src = Buf::Normed;
            if a.kv_stride > 1 {
                let weights = Weights::conv_bn(format!("{p}.attn.{name}.down_conv"), format!("{p}.attn.{name}.norm"), c, 1, b.kernel);
                self.push(format!("{p}.attn.{name}.down_conv"), dw(b.kernel, a.kv_stride, weights), src, Buf::Dw);
                src = Buf::Dw;
            }
            let proj = Weights::conv(format!("{p}.attn.{name}.proj"), a.key_dim, c, false);
            self.push(format!("{p}.attn.{name}.proj"), Op::Pointwise { weights: proj, act: Act::Identity, residual: None }, src, dst);
        }
        let op = Op::Attention { heads: a.num_heads, key_dim: a.key_dim, value_dim: a.key_dim, key: Buf::Key, value: Buf::Value };
        self.push(format!("{p}.attn"), op, Buf::Query, Buf::Attention);
        let weights = Weights::conv(format!("{p}.attn.output.proj"), b.out_chs, a.num_heads * a.key_dim, false).scaled(layer_scale(b));
        let out = self.next_io();
        let residual = b.skip.then_some(self.cur);
        self.push(format!("{p}.attn.output.proj"), Op::Pointwise { weights, act: Act::Identity, residual }, Buf::Attention, out);
        self.cur = out;
    }

    /// Global pool -> head 1x1 conv + act -> classifier.
    fn head(&mut self, spec: &NetSpec) {
        self.push("global_pool".into(), Op::GlobalPool, self.cur, Buf::Pooled);
        let mut head = Weights::conv("conv_head".into(), spec.head_chs, spec.num_features, spec.head_bias);
        if spec.head_norm {
            head.bn = Some("norm_head".into());
        }
        self.push("conv_head".into(), Op::Linear { weights: head, act: spec.act }, Buf::Pooled, Buf::Embedding);
        let classifier = Weights::linear("classifier".into(), spec.num_classes, spec.head_chs);
        self.push("classifier".into(), Op::Linear { weights: classifier, act: Act::Identity }, Buf::Embedding, Buf::Logits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::find_variant;

    fn list(name: &str) -> OpList {
        OpList::build(&NetSpec::build(find_variant(name).unwrap(), 1000).unwrap())
    }

    #[test]
    fn large_100_steps() {
        let ops = list("mobilenetv3_large_100");
        let names: Vec<&str> = ops.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(&names[..4], &["conv_stem", "blocks.0.0.conv_dw", "blocks.0.0.conv_pw", "blocks.1.0.conv_pw"]);
        assert_eq!(&names[names.len() - 3..], &["global_pool", "conv_head", "classifier"]);
        // blocks.2.1: 40 -> 120 (k5) -> SE 32 -> 40 with a residual from its input buffer.
        let se = ops.steps.iter().find(|s| s.name == "blocks.2.1.se").unwrap();
        assert!(matches!(&se.op, Op::SqueezeExcite { reduce, .. } if reduce.shape == [32, 120, 1, 1]));
        let pwl = ops.steps.iter().find(|s| s.name == "blocks.2.1.conv_pwl").unwrap();
        let pw = ops.steps.iter().find(|s| s.name == "blocks.2.1.conv_pw").unwrap();
        assert!(matches!(pwl.op, Op::Pointwise { residual: Some(r), .. } if r == pw.input && pwl.output != pw.input));
        let shapes = ops.shapes(224, 224);
        assert_eq!(shapes[0].output, Shape { h: 112, w: 112, c: 16 });
        let pool = shapes.len() - 3;
        assert_eq!(shapes[pool].input, Shape { h: 7, w: 7, c: 960 });
        let m = ops.macs(224, 224);
        assert!((210_000_000..235_000_000).contains(&m), "{m}");
    }

    /// An `mqa` block: BN step, query / key / value projections (keys and values downsampled
    /// by a depthwise conv), attention, output projection with layer scale and residual.
    #[test]
    fn hybrid_attention_block() {
        let ops = list("mobilenetv4_hybrid_medium");
        let block: Vec<&Step> = ops.steps.iter().filter(|s| s.name.starts_with("blocks.2.4.")).collect();
        let names: Vec<&str> = block.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "blocks.2.4.norm", "blocks.2.4.attn.query.proj", "blocks.2.4.attn.key.down_conv", "blocks.2.4.attn.key.proj",
                "blocks.2.4.attn.value.down_conv", "blocks.2.4.attn.value.proj", "blocks.2.4.attn", "blocks.2.4.attn.output.proj"
            ]
        );
        assert!(matches!(&block[0].op, Op::Depthwise { kernel: 1, weights, .. } if weights.norm_only && weights.bn.as_deref() == Some("blocks.2.4.norm")));
        assert!(matches!(&block[2].op, Op::Depthwise { kernel: 3, stride: 2, .. }));
        let out = block[7];
        assert!(matches!(&out.op, Op::Pointwise { weights, residual: Some(_), .. } if weights.layer_scale.as_deref() == Some("blocks.2.4.layer_scale") && weights.shape == [160, 256, 1, 1]));
        let i = ops.steps.iter().position(|s| s.name == "blocks.2.4.attn").unwrap();
        let shapes = ops.shapes(256, 256);
        assert_eq!(shapes[i].input, Shape { h: 16, w: 16, c: 256 });
        assert_eq!(shapes[i].output, Shape { h: 16, w: 16, c: 256 });
        // 256 pixels x 4 heads, 8 x 8 keys, (64 + 64 + 1) per score.
        assert_eq!(shapes[i].macs, 256 * 4 * 64 * 129);
        // Stage 3 attends without downsampling: 8 x 8 queries over 8 x 8 keys.
        let j = ops.steps.iter().position(|s| s.name == "blocks.3.8.attn").unwrap();
        assert_eq!(shapes[j].macs, 64 * 4 * 64 * 129);
        // Every uir projection of the hybrids carries a layer scale; none in the conv models.
        assert!(ops.steps.iter().filter(|s| s.name.ends_with(".pw_proj")).all(|s| s.op.weights()[0].layer_scale.is_some()));
        assert!(list("mobilenetv4_conv_medium").steps.iter().all(|s| s.op.weights().iter().all(|w| w.layer_scale.is_none())));
    }

    /// Every step's channels agree with the step that produced its input.
    #[test]
    fn channels_chain_for_every_variant() {
        for v in crate::model::arch::VARIANTS {
            let ops = list(v.name);
            let shapes = ops.shapes(193, 193);
            for (step, s) in ops.steps.iter().zip(&shapes) {
                for w in step.op.weights() {
                    let expect_in = if matches!(step.op, Op::Depthwise { .. }) { 1 } else if matches!(step.op, Op::SqueezeExcite { .. }) { w.in_chs() } else { s.input.c };
                    assert_eq!(w.in_chs(), expect_in, "{} {}", v.name, step.name);
                }
            }
            assert_eq!(shapes.last().unwrap().output.c, 1000);
        }
    }
}
