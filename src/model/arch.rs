//! timm's MobileNetV3 family, declared the way timm declares it: block strings per stage
//! (`ir_r3_k5_s2_e3_c40_se0.25_nre`), a channel multiplier, a depth multiplier and a few
//! model-level switches. One decoder turns any of them into a [`NetSpec`]: every layer with its
//! channels, kernel, stride, activation and timm tensor-name prefix.
//!
//! Mirrors `timm/models/mobilenetv3.py` (`_gen_mobilenet_v3`, `_gen_mobilenet_v3_rw`) and
//! `_efficientnet_builder.py` (`_decode_block_str`, `_scale_stage_depth`, `round_channels`).

use crate::error::{Error, Result};
use crate::kernels::{Act, Padding};
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Block strings

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// `ds`/`dsa`: depthwise -> (SE) -> pointwise.
    DepthwiseSeparable,
    /// `ir`: pointwise expand -> depthwise -> (SE) -> pointwise project.
    InvertedResidual,
    /// `cn`: a single conv + BN + act.
    ConvBnAct,
}

/// One decoded block string (before channel rounding and depth scaling).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDef {
    pub kind: BlockKind,
    pub repeats: usize,
    pub kernel: usize,
    pub stride: usize,
    pub exp_ratio: f64,
    pub out_chs: usize,
    pub se_ratio: f64,
    /// Activation override (`nre`, `nhs`); None = the model's default.
    pub act: Option<Act>,
    pub noskip: bool,
    /// `skip` forces a residual on `cn` blocks.
    pub force_skip: bool,
    /// `dsa`: activation after the pointwise conv.
    pub pw_act: bool,
}

fn bad(s: &str, why: &str) -> Error {
    Error::UnsupportedArch(format!("block string '{s}': {why}"))
}

/// Decode a timm block string such as `ir_r3_k5_s2_e3_c40_se0.25_nre`.
pub fn decode_block(s: &str) -> Result<BlockDef> {
    let mut ops = s.split('_');
    let kind = match ops.next().unwrap_or("") {
        "ds" | "dsa" => BlockKind::DepthwiseSeparable,
        "ir" => BlockKind::InvertedResidual,
        "cn" => BlockKind::ConvBnAct,
        other => return Err(bad(s, &format!("block type '{other}' is not supported (ds, dsa, ir, cn)"))),
    };
    let dsa = s.starts_with("dsa_");
    let mut d = BlockDef {
        kind,
        repeats: 0,
        kernel: 0,
        stride: 0,
        exp_ratio: 1.0,
        out_chs: 0,
        se_ratio: 0.0,
        act: None,
        noskip: dsa,
        force_skip: false,
        pw_act: dsa,
    };
    let (mut have_r, mut have_c, mut have_s, mut have_k) = (false, false, false, false);
    for op in ops {
        match op {
            "noskip" => d.noskip = true,
            "skip" => d.force_skip = true,
            "nre" => d.act = Some(Act::Relu),
            "nhs" => d.act = Some(Act::HardSwish),
            _ => {
                let split = op.find(|ch: char| ch.is_ascii_digit()).ok_or_else(|| bad(s, &format!("option '{op}' has no value")))?;
                let (key, val) = op.split_at(split);
                let int = || val.parse::<usize>().map_err(|_| bad(s, &format!("option '{op}' is not an integer")));
                let float = || val.parse::<f64>().map_err(|_| bad(s, &format!("option '{op}' is not a number")));
                match key {
                    "r" => (d.repeats, have_r) = (int()?, true),
                    "k" => (d.kernel, have_k) = (int()?, true),
                    "s" => (d.stride, have_s) = (int()?, true),
                    "e" => d.exp_ratio = float()?,
                    "c" => (d.out_chs, have_c) = (int()?, true),
                    "se" => d.se_ratio = float()?,
                    // timm options that change the block beyond what MobileNetV3 uses.
                    _ => return Err(bad(s, &format!("option '{key}' is not supported"))),
                }
            }
        }
    }
    if !(have_r && have_c && have_s) || (!have_k && kind != BlockKind::ConvBnAct) {
        return Err(bad(s, "needs r, k, s and c"));
    }
    if !have_k {
        d.kernel = 1;
    }
    if d.repeats == 0 || d.out_chs == 0 || !(1..=2).contains(&d.stride) || !(1..=7).contains(&d.kernel) || d.kernel % 2 == 0 {
        return Err(bad(s, "repeats, channels, stride (1|2) or kernel (odd, <= 7) out of range"));
    }
    if kind == BlockKind::ConvBnAct && d.kernel != 1 {
        return Err(bad(s, "only 1x1 'cn' blocks are supported"));
    }
    if !(d.exp_ratio > 0.0 && d.exp_ratio <= 16.0) || !(0.0..=1.0).contains(&d.se_ratio) {
        return Err(bad(s, "expansion or SE ratio out of range"));
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Channel rounding (timm's make_divisible / round_channels)

/// timm `make_divisible(v, divisor=8, min_value=None, round_limit=0.9)`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = (((v + d / 2.0).trunc() as usize) / divisor * divisor).max(divisor);
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

/// timm `round_channels(channels, multiplier)`.
pub fn round_channels(channels: f64, multiplier: f64) -> usize {
    if multiplier == 0.0 {
        channels as usize
    } else {
        make_divisible(channels * multiplier, 8)
    }
}

/// timm `_scale_stage_depth` with `depth_trunc='ceil'`.
fn scale_stage_depth(repeats: &[usize], depth_multiplier: f64) -> Vec<usize> {
    let mut num_repeat: usize = repeats.iter().sum();
    let mut scaled = (num_repeat as f64 * depth_multiplier).ceil() as usize;
    let mut out = vec![0; repeats.len()];
    for (i, &r) in repeats.iter().enumerate().rev() {
        let rs = ((r as f64 / num_repeat as f64 * scaled as f64).round_ties_even() as usize).max(1);
        out[i] = rs;
        num_repeat -= r;
        scaled = scaled.saturating_sub(rs);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Model families and the registered variants

/// How the squeeze-excite module is configured (differs between timm's two generators).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeStyle {
    /// `_gen_mobilenet_v3`: ReLU inside, reduced channels by round_channels.
    Standard,
    /// `_gen_mobilenet_v3_rw`: the block's activation inside, reduced channels by Python round().
    Rw,
}

#[derive(Debug)]
pub struct Family {
    pub stages: &'static [&'static [&'static str]],
    pub act: Act,
    pub num_features: usize,
    pub head_bias: bool,
    pub se: SeStyle,
}

pub const LARGE: Family = Family {
    stages: &[
        &["ds_r1_k3_s1_e1_c16_nre"],
        &["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
        &["ir_r3_k5_s2_e3_c40_se0.25_nre"],
        &["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
        &["ir_r2_k3_s1_e6_c112_se0.25"],
        &["ir_r3_k5_s2_e6_c160_se0.25"],
        &["cn_r1_k1_s1_c960"],
    ],
    act: Act::HardSwish,
    num_features: 1280,
    head_bias: true,
    se: SeStyle::Standard,
};

pub const LARGE_MINIMAL: Family = Family {
    stages: &[
        &["ds_r1_k3_s1_e1_c16"],
        &["ir_r1_k3_s2_e4_c24", "ir_r1_k3_s1_e3_c24"],
        &["ir_r3_k3_s2_e3_c40"],
        &["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
        &["ir_r2_k3_s1_e6_c112"],
        &["ir_r3_k3_s2_e6_c160"],
        &["cn_r1_k1_s1_c960"],
    ],
    act: Act::Relu,
    num_features: 1280,
    head_bias: true,
    se: SeStyle::Standard,
};

pub const SMALL: Family = Family {
    stages: &[
        &["ds_r1_k3_s2_e1_c16_se0.25_nre"],
        &["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
        &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
        &["ir_r2_k5_s1_e3_c48_se0.25"],
        &["ir_r3_k5_s2_e6_c96_se0.25"],
        &["cn_r1_k1_s1_c576"],
    ],
    act: Act::HardSwish,
    num_features: 1024,
    head_bias: true,
    se: SeStyle::Standard,
};

pub const SMALL_MINIMAL: Family = Family {
    stages: &[
        &["ds_r1_k3_s2_e1_c16"],
        &["ir_r1_k3_s2_e4.5_c24", "ir_r1_k3_s1_e3.67_c24"],
        &["ir_r1_k3_s2_e4_c40", "ir_r2_k3_s1_e6_c40"],
        &["ir_r2_k3_s1_e3_c48"],
        &["ir_r3_k3_s2_e6_c96"],
        &["cn_r1_k1_s1_c576"],
    ],
    act: Act::Relu,
    num_features: 1024,
    head_bias: true,
    se: SeStyle::Standard,
};

/// `mobilenetv3_rw`: the large layout, first block without skip, head conv without bias.
pub const RW: Family = Family {
    stages: &[
        &["ds_r1_k3_s1_e1_c16_nre_noskip"],
        &["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
        &["ir_r3_k5_s2_e3_c40_se0.25_nre"],
        &["ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"],
        &["ir_r2_k3_s1_e6_c112_se0.25"],
        &["ir_r3_k5_s2_e6_c160_se0.25"],
        &["cn_r1_k1_s1_c960"],
    ],
    act: Act::HardSwish,
    num_features: 1280,
    head_bias: false,
    se: SeStyle::Rw,
};

/// A registered model name and its scaling (timm's `@register_model` functions).
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    pub family: &'static Family,
    pub channel_multiplier: f64,
    pub depth_multiplier: f64,
    /// `tf_*` ports: TF "same" padding.
    pub tf_padding: bool,
    pub bn_eps: f64,
}

const EPS_TORCH: f64 = 1e-5;
const EPS_TF: f64 = 1e-3;

macro_rules! variant {
    ($name:literal, $fam:expr, $mult:expr, $depth:expr, $tf:expr, $eps:expr) => {
        Variant { name: $name, family: &$fam, channel_multiplier: $mult, depth_multiplier: $depth, tf_padding: $tf, bn_eps: $eps }
    };
}

pub static VARIANTS: &[Variant] = &[
    variant!("mobilenetv3_large_075", LARGE, 0.75, 1.0, false, EPS_TORCH),
    variant!("mobilenetv3_large_100", LARGE, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv3_large_150d", LARGE, 1.5, 1.2, false, EPS_TORCH),
    variant!("mobilenetv3_small_050", SMALL, 0.5, 1.0, false, EPS_TORCH),
    variant!("mobilenetv3_small_075", SMALL, 0.75, 1.0, false, EPS_TORCH),
    variant!("mobilenetv3_small_100", SMALL, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv3_rw", RW, 1.0, 1.0, false, EPS_TF),
    variant!("tf_mobilenetv3_large_075", LARGE, 0.75, 1.0, true, EPS_TF),
    variant!("tf_mobilenetv3_large_100", LARGE, 1.0, 1.0, true, EPS_TF),
    variant!("tf_mobilenetv3_large_minimal_100", LARGE_MINIMAL, 1.0, 1.0, true, EPS_TF),
    variant!("tf_mobilenetv3_small_075", SMALL, 0.75, 1.0, true, EPS_TF),
    variant!("tf_mobilenetv3_small_100", SMALL, 1.0, 1.0, true, EPS_TF),
    variant!("tf_mobilenetv3_small_minimal_100", SMALL_MINIMAL, 1.0, 1.0, true, EPS_TF),
];

/// Find a variant by timm name; a pretrained tag (`mobilenetv3_large_100.ra_in1k`) is ignored.
pub fn find_variant(name: &str) -> Result<&'static Variant> {
    let base = name.split('.').next().unwrap_or(name).trim();
    let base = base.strip_prefix("timm/").unwrap_or(base);
    VARIANTS.iter().find(|v| v.name == base).ok_or_else(|| {
        let known: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
        Error::UnsupportedArch(format!("'{name}' is not a supported architecture; supported: {}", known.join(", ")))
    })
}

// ---------------------------------------------------------------------------------------------
// Resolved network description

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeSpec {
    pub rd_chs: usize,
    pub act: Act,
}

/// One block with every size resolved, named as in timm's state_dict (`blocks.{stage}.{index}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockSpec {
    pub prefix: String,
    pub kind: BlockKind,
    pub in_chs: usize,
    /// Expanded channels (IR), = in_chs for DS, = out_chs for CN.
    pub mid_chs: usize,
    pub out_chs: usize,
    pub kernel: usize,
    pub stride: usize,
    pub act: Act,
    pub se: Option<SeSpec>,
    pub skip: bool,
    pub pw_act: bool,
}

/// Serializes to the JSON layer list used by `mobilenetv3 describe` (e.g. to build the same
/// network in other frameworks for benchmarks).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetSpec {
    pub name: String,
    pub padding: Padding,
    pub bn_eps: f64,
    pub act: Act,
    pub stem_chs: usize,
    pub blocks: Vec<BlockSpec>,
    /// Channels out of the last block (= input of the head conv).
    pub num_features: usize,
    /// Head conv width (the pooled embedding size).
    pub head_chs: usize,
    pub head_bias: bool,
    pub num_classes: usize,
}

impl NetSpec {
    /// Resolve a variant into its layers (timm's EfficientNetBuilder logic).
    pub fn build(v: &Variant, num_classes: usize) -> Result<NetSpec> {
        let fam = v.family;
        let mult = v.channel_multiplier;
        // fix_stem = channel_multiplier < 0.75
        let stem_chs = if mult < 0.75 { 16 } else { round_channels(16.0, mult) };
        let mut blocks = Vec::new();
        let mut in_chs = stem_chs;
        for (si, stage) in fam.stages.iter().enumerate() {
            let defs: Vec<BlockDef> = stage.iter().map(|s| decode_block(s)).collect::<Result<_>>()?;
            let repeats: Vec<usize> = defs.iter().map(|d| d.repeats).collect();
            let scaled = scale_stage_depth(&repeats, v.depth_multiplier);
            let mut bi = 0;
            for (d, &n) in defs.iter().zip(&scaled) {
                for _ in 0..n {
                    // Only the first block of a stage keeps its stride.
                    let stride = if bi == 0 { d.stride } else { 1 };
                    let out_chs = round_channels(d.out_chs as f64, mult);
                    let act = d.act.unwrap_or(fam.act);
                    let mid_chs = match d.kind {
                        BlockKind::InvertedResidual => make_divisible(in_chs as f64 * d.exp_ratio, 8),
                        BlockKind::DepthwiseSeparable => in_chs,
                        BlockKind::ConvBnAct => out_chs,
                    };
                    let se = (d.se_ratio > 0.0 && d.kind != BlockKind::ConvBnAct).then(|| match fam.se {
                        SeStyle::Standard => SeSpec { rd_chs: round_channels(mid_chs as f64 * d.se_ratio, 1.0), act: Act::Relu },
                        SeStyle::Rw => SeSpec { rd_chs: ((mid_chs as f64 * d.se_ratio).round_ties_even() as usize).max(1), act },
                    });
                    let same = stride == 1 && in_chs == out_chs;
                    let skip = match d.kind {
                        BlockKind::ConvBnAct => d.force_skip && same,
                        _ => same && !d.noskip,
                    };
                    blocks.push(BlockSpec {
                        prefix: format!("blocks.{si}.{bi}"),
                        kind: d.kind,
                        in_chs,
                        mid_chs,
                        out_chs,
                        kernel: d.kernel,
                        stride,
                        act,
                        se,
                        skip,
                        pw_act: d.pw_act,
                    });
                    in_chs = out_chs;
                    bi += 1;
                }
            }
        }
        Ok(NetSpec {
            name: v.name.to_string(),
            padding: if v.tf_padding { Padding::TfSame } else { Padding::Symmetric },
            bn_eps: v.bn_eps,
            act: fam.act,
            stem_chs,
            blocks,
            num_features: in_chs,
            head_chs: fam.num_features,
            head_bias: fam.head_bias,
            num_classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_block_strings() {
        let b = decode_block("ir_r3_k5_s2_e3_c40_se0.25_nre").unwrap();
        assert_eq!((b.kind, b.repeats, b.kernel, b.stride, b.out_chs), (BlockKind::InvertedResidual, 3, 5, 2, 40));
        assert_eq!((b.exp_ratio, b.se_ratio, b.act), (3.0, 0.25, Some(Act::Relu)));
        let b = decode_block("ds_r1_k3_s1_e1_c16_nre_noskip").unwrap();
        assert!(b.noskip && b.kind == BlockKind::DepthwiseSeparable);
        let b = decode_block("cn_r1_k1_s1_c960").unwrap();
        assert_eq!((b.kind, b.out_chs, b.act), (BlockKind::ConvBnAct, 960, None));
        assert_eq!(decode_block("ir_r1_k3_s1_e3.67_c24").unwrap().exp_ratio, 3.67);
        for bad in ["xx_r1_k3_s1_c16", "ir_r1_k3_s1", "ir_r1_k4_s1_c8", "ir_r1_k3_s3_c8", "ir_r1_k3_s1_c8_cc4", "ir_rX_k3_s1_c8", "er_r1_k3_s1_e4_c24"] {
            assert!(matches!(decode_block(bad), Err(Error::UnsupportedArch(_))), "{bad}");
        }
    }

    #[test]
    fn rounding_matches_timm() {
        assert_eq!(round_channels(16.0, 0.75), 16); // 12 -> 16 (min divisor... then 90% rule)
        assert_eq!(round_channels(960.0, 0.75), 720);
        assert_eq!(round_channels(24.0, 0.5), 16); // 12 -> 16
        assert_eq!(round_channels(40.0, 0.5), 24); // 20 -> 24
        assert_eq!(make_divisible(24.0 * 3.67, 8), 88);
        assert_eq!(make_divisible(80.0 * 2.3, 8), 184);
        assert_eq!(make_divisible(4.0, 8), 8);
        assert_eq!(scale_stage_depth(&[1, 1, 2], 1.2), vec![1, 2, 2]); // as timm's _scale_stage_depth
        assert_eq!(scale_stage_depth(&[3], 1.2), vec![4]);
    }

    #[test]
    fn large_100_layout() {
        let n = NetSpec::build(find_variant("mobilenetv3_large_100").unwrap(), 1000).unwrap();
        assert_eq!(n.blocks.len(), 16);
        assert_eq!(n.num_features, 960);
        assert!(n.blocks[0].skip);
        let b = &n.blocks[4]; // blocks.2.1: 40 -> 120 -> 40, k5, SE 32 (round_channels(30))
        assert_eq!((b.prefix.as_str(), b.mid_chs, b.se.as_ref().unwrap().rd_chs), ("blocks.2.1", 120, 32));
        let rw = NetSpec::build(find_variant("mobilenetv3_rw.rmsp_in1k").unwrap(), 1000).unwrap();
        assert!(!rw.blocks[0].skip && !rw.head_bias);
        assert_eq!(rw.blocks[4].se.as_ref().unwrap().rd_chs, 30);
        assert!(find_variant("resnet50").is_err());
    }
}
