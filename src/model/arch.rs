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
    /// `er` (MobileNetV4 FusedIB): full k x k conv expand + act -> 1x1 project.
    EdgeResidual,
    /// `uir` (MobileNetV4): [depthwise, no act] -> 1x1 expand + act -> [depthwise + act] -> 1x1 project.
    UniversalInvertedResidual,
    /// `mqa` (MobileNetV4 hybrids): BN -> multi-query attention (optional depthwise key/value
    /// downsampling) -> 1x1 output projection.
    MultiQueryAttention,
}

/// One decoded block string (before channel rounding and depth scaling).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDef {
    pub kind: BlockKind,
    pub repeats: usize,
    /// Depthwise kernel (`uir`: the middle one, 0 = none), conv kernel for `er`/`cn`.
    pub kernel: usize,
    /// `uir` option `a`: depthwise kernel before the expansion (0 = none).
    pub dw_start: usize,
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
    /// `mqa`: query heads (`h`), key = value dimension (`d`), key/value stride (`v`).
    pub num_heads: usize,
    pub key_dim: usize,
    pub kv_stride: usize,
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
        "er" => BlockKind::EdgeResidual,
        "uir" => BlockKind::UniversalInvertedResidual,
        "mqa" => BlockKind::MultiQueryAttention,
        other => return Err(bad(s, &format!("block type '{other}' is not supported (ds, dsa, ir, cn, er, uir, mqa)"))),
    };
    let dsa = s.starts_with("dsa_");
    let mut d = BlockDef {
        kind,
        repeats: 0,
        kernel: 0,
        dw_start: 0,
        stride: 0,
        exp_ratio: 1.0,
        out_chs: 0,
        se_ratio: 0.0,
        act: None,
        noskip: dsa,
        force_skip: false,
        pw_act: dsa,
        num_heads: 0,
        key_dim: 0,
        kv_stride: 1,
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
                    "a" if kind == BlockKind::UniversalInvertedResidual => d.dw_start = int()?,
                    "s" => (d.stride, have_s) = (int()?, true),
                    "e" => d.exp_ratio = float()?,
                    "c" => (d.out_chs, have_c) = (int()?, true),
                    "se" => d.se_ratio = float()?,
                    "h" if kind == BlockKind::MultiQueryAttention => d.num_heads = int()?,
                    "d" if kind == BlockKind::MultiQueryAttention => d.key_dim = int()?,
                    "v" if kind == BlockKind::MultiQueryAttention => d.kv_stride = int()?,
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
    let kernel_ok = |k: usize, none_ok: bool| (none_ok && k == 0) || ((1..=7).contains(&k) && k % 2 == 1);
    let uir = kind == BlockKind::UniversalInvertedResidual;
    if d.repeats == 0 || d.out_chs == 0 || !(1..=2).contains(&d.stride) || !kernel_ok(d.kernel, uir) || !kernel_ok(d.dw_start, true) {
        return Err(bad(s, "repeats, channels, stride (1|2) or kernel (odd, <= 7) out of range"));
    }
    if uir && d.stride == 2 && d.kernel == 0 && d.dw_start == 0 {
        return Err(bad(s, "a strided 'uir' block needs a depthwise conv"));
    }
    if kind == BlockKind::ConvBnAct && ((d.kernel == 1 && d.stride != 1) || (d.kernel > 1 && d.force_skip)) {
        return Err(bad(s, "'cn' blocks: 1x1 only at stride 1, skip only on 1x1"));
    }
    if kind == BlockKind::MultiQueryAttention
        && (d.stride != 1 || !(1..=64).contains(&d.num_heads) || !(1..=1024).contains(&d.key_dim) || !(1..=2).contains(&d.kv_stride))
    {
        return Err(bad(s, "'mqa' blocks: stride 1, 1 to 64 heads (h), key dim 1 to 1024 (d), kv stride 1 or 2 (v)"));
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
    make_divisible_limit(v, divisor, 0.9)
}

/// timm `make_divisible(v, divisor, round_limit=round_limit)`.
pub fn make_divisible_limit(v: f64, divisor: usize, round_limit: f64) -> usize {
    let d = divisor as f64;
    let mut new_v = (((v + d / 2.0).trunc() as usize) / divisor * divisor).max(divisor);
    if (new_v as f64) < round_limit * v {
        new_v += divisor;
    }
    new_v
}

/// timm `round_channels(channels, multiplier)`.
pub fn round_channels(channels: f64, multiplier: f64) -> usize {
    round_channels_limit(channels, multiplier, 0.9)
}

/// timm `round_channels(channels, multiplier, round_limit=round_limit)`.
pub fn round_channels_limit(channels: f64, multiplier: f64, round_limit: f64) -> usize {
    if multiplier == 0.0 {
        channels as usize
    } else {
        make_divisible_limit(channels * multiplier, 8, round_limit)
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

/// How the squeeze-excite module is configured (differs between timm's generators).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeStyle {
    /// `_gen_mobilenet_v3`: ReLU inside, reduced channels by round_channels.
    Standard,
    /// `_gen_mobilenet_v3_rw`: the block's activation inside, reduced channels by Python round().
    Rw,
    /// `_gen_lcnet`: ReLU inside, reduced channels by Python round().
    Lcnet,
    /// `_gen_fbnetv3`: the block's activation inside, reduced channels from the block input
    /// (`se_from_exp=False`: ratio / expansion) by the model's round_chs_fn (limit 0.95).
    Fbnet,
}

/// Anti-aliased downsampling (timm `aa_layer`): strided convs run at stride 1, then this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AntiAlias {
    /// `avg`: 2x2 average pool, stride 2.
    AvgPool,
    /// `blurpc`: fixed 3x3 binomial blur, stride 2, zero padding 1.
    Blur,
}

/// The head after global pooling: 1x1 conv (to `num_features`) then act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadStyle {
    /// Conv with bias, act (MobileNetV3, LCNet).
    Bias,
    /// Conv without bias, act (`mobilenetv3_rw`, FBNetV3).
    NoBias,
    /// Conv without bias, BN + act (MobileNetV4, `head_norm=True`).
    Norm,
}

#[derive(Debug)]
pub struct Family {
    pub stages: &'static [&'static [&'static str]],
    pub act: Act,
    pub stem_chs: usize,
    /// `fix_stem`: the stem keeps `stem_chs` when the channel multiplier is below this.
    pub fix_stem_below: f64,
    /// `round_limit` of the family's round_chs_fn.
    pub round_limit: f64,
    pub num_features: usize,
    pub head: HeadStyle,
    pub se: SeStyle,
    pub aa: Option<AntiAlias>,
    /// Learned per-channel scale on the `uir` and `mqa` branches (MobileNetV4 hybrids).
    pub layer_scale: bool,
}

/// timm defaults shared by the MobileNetV3 families.
const MNV3: Family = Family {
    stages: &[],
    act: Act::HardSwish,
    stem_chs: 16,
    fix_stem_below: 0.75,
    round_limit: 0.9,
    num_features: 1280,
    head: HeadStyle::Bias,
    se: SeStyle::Standard,
    aa: None,
    layer_scale: false,
};

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
    ..MNV3
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
    ..MNV3
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
    num_features: 1024,
    ..MNV3
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
    ..MNV3
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
    head: HeadStyle::NoBias,
    se: SeStyle::Rw,
    ..MNV3
};

/// `_gen_lcnet`: PP-LCNet, all `dsa` blocks.
pub const LCNET: Family = Family {
    stages: &[
        &["dsa_r1_k3_s1_c32"],
        &["dsa_r2_k3_s2_c64"],
        &["dsa_r2_k3_s2_c128"],
        &["dsa_r1_k3_s2_c256", "dsa_r1_k5_s1_c256"],
        &["dsa_r4_k5_s1_c256"],
        &["dsa_r2_k5_s2_c512_se0.25"],
    ],
    fix_stem_below: 0.0,
    se: SeStyle::Lcnet,
    ..MNV3
};

/// `_gen_fbnetv3`: hard-swish, head conv to 1984 without bias, channels rounded with limit 0.95.
const FBNET: Family = Family { fix_stem_below: 0.0, round_limit: 0.95, num_features: 1984, head: HeadStyle::NoBias, se: SeStyle::Fbnet, ..MNV3 };

pub const FBNETV3_B: Family = Family {
    stages: &[
        &["ds_r2_k3_s1_e1_c16"],
        &["ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"],
        &["ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"],
        &["ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"],
        &["ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"],
        &["ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25"],
        &["cn_r1_k1_s1_c1344"],
    ],
    stem_chs: 16,
    ..FBNET
};

pub const FBNETV3_D: Family = Family {
    stages: &[
        &["ds_r2_k3_s1_e1_c16"],
        &["ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24"],
        &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25"],
        &["ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72"],
        &["ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25"],
        &["ir_r1_k3_s2_e6_c208_se0.25", "ir_r5_k5_s1_e5_c208_se0.25", "ir_r1_k5_s1_e6_c240_se0.25"],
        &["cn_r1_k1_s1_c1440"],
    ],
    stem_chs: 24,
    ..FBNET
};

pub const FBNETV3_G: Family = Family {
    stages: &[
        &["ds_r3_k3_s1_e1_c24"],
        &["ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40"],
        &["ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25"],
        &["ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104"],
        &["ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25"],
        &["ir_r1_k3_s2_e6_c264_se0.25", "ir_r6_k5_s1_e5_c264_se0.25", "ir_r2_k5_s1_e6_c288_se0.25"],
        &["cn_r1_k1_s1_c1728"],
    ],
    stem_chs: 32,
    ..FBNET
};

/// `_gen_mobilenet_v4` (conv models): ReLU, stem kept below width 1.0, head conv + BN + act.
const MNV4: Family = Family { act: Act::Relu, fix_stem_below: 1.0, head: HeadStyle::Norm, ..MNV3 };

pub const MNV4_CONV_SMALL: Family = Family {
    stages: &[
        &["cn_r1_k3_s2_e1_c32", "cn_r1_k1_s1_e1_c32"],
        &["cn_r1_k3_s2_e1_c96", "cn_r1_k1_s1_e1_c64"],
        &["uir_r1_a5_k5_s2_e3_c96", "uir_r4_a0_k3_s1_e2_c96", "uir_r1_a3_k0_s1_e4_c96"],
        &["uir_r1_a3_k3_s2_e6_c128", "uir_r1_a5_k5_s1_e4_c128", "uir_r1_a0_k5_s1_e4_c128", "uir_r1_a0_k5_s1_e3_c128", "uir_r2_a0_k3_s1_e4_c128"],
        &["cn_r1_k1_s1_c960"],
    ],
    stem_chs: 32,
    ..MNV4
};

pub const MNV4_CONV_MEDIUM: Family = Family {
    stages: &[
        &["er_r1_k3_s2_e4_c48"],
        &["uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"],
        &[
            "uir_r1_a3_k5_s2_e6_c160", "uir_r2_a3_k3_s1_e4_c160", "uir_r1_a3_k5_s1_e4_c160", "uir_r1_a3_k3_s1_e4_c160",
            "uir_r1_a3_k0_s1_e4_c160", "uir_r1_a0_k0_s1_e2_c160", "uir_r1_a3_k0_s1_e4_c160",
        ],
        &[
            "uir_r1_a5_k5_s2_e6_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a3_k5_s1_e4_c256", "uir_r1_a0_k0_s1_e4_c256",
            "uir_r1_a3_k0_s1_e4_c256", "uir_r1_a3_k5_s1_e2_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a0_k0_s1_e4_c256",
            "uir_r1_a5_k0_s1_e2_c256",
        ],
        &["cn_r1_k1_s1_c960"],
    ],
    stem_chs: 32,
    ..MNV4
};

pub const MNV4_CONV_LARGE: Family = Family {
    stages: &[
        &["er_r1_k3_s2_e4_c48"],
        &["uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"],
        &["uir_r1_a3_k5_s2_e4_c192", "uir_r3_a3_k3_s1_e4_c192", "uir_r1_a3_k5_s1_e4_c192", "uir_r5_a5_k3_s1_e4_c192", "uir_r1_a3_k0_s1_e4_c192"],
        &[
            "uir_r4_a5_k5_s2_e4_c512", "uir_r1_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512", "uir_r2_a5_k0_s1_e4_c512",
            "uir_r1_a5_k3_s1_e4_c512", "uir_r1_a5_k5_s1_e4_c512", "uir_r3_a5_k0_s1_e4_c512",
        ],
        &["cn_r1_k1_s1_c960"],
    ],
    stem_chs: 24,
    ..MNV4
};

pub const MNV4_CONV_AA_MEDIUM: Family = Family { aa: Some(AntiAlias::AvgPool), ..MNV4_CONV_MEDIUM };
pub const MNV4_CONV_BLUR_MEDIUM: Family = Family { aa: Some(AntiAlias::Blur), ..MNV4_CONV_MEDIUM };
pub const MNV4_CONV_AA_LARGE: Family = Family { aa: Some(AntiAlias::AvgPool), ..MNV4_CONV_LARGE };

pub const MNV4_HYBRID_MEDIUM: Family = Family {
    stages: &[
        &["er_r1_k3_s2_e4_c48"],
        &["uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"],
        &[
            "uir_r1_a3_k5_s2_e6_c160", "uir_r1_a0_k0_s1_e2_c160", "uir_r1_a3_k3_s1_e4_c160", "uir_r1_a3_k5_s1_e4_c160",
            "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k3_s1_e4_c160", "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k0_s1_e4_c160",
            "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k3_s1_e4_c160", "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k0_s1_e4_c160",
        ],
        &[
            "uir_r1_a5_k5_s2_e6_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a3_k5_s1_e4_c256", "uir_r1_a0_k0_s1_e2_c256",
            "uir_r1_a3_k5_s1_e2_c256", "uir_r1_a0_k0_s1_e2_c256", "uir_r1_a0_k0_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256",
            "uir_r1_a3_k0_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256", "uir_r1_a5_k5_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256",
            "uir_r1_a5_k0_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256", "uir_r1_a5_k0_s1_e4_c256",
        ],
        &["cn_r1_k1_s1_c960"],
    ],
    stem_chs: 32,
    layer_scale: true,
    ..MNV4
};

/// The large hybrid: exact (erf) GELU everywhere.
pub const MNV4_HYBRID_LARGE: Family = Family {
    stages: &[
        &["er_r1_k3_s2_e4_c48"],
        &["uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"],
        &[
            "uir_r1_a3_k5_s2_e4_c192", "uir_r3_a3_k3_s1_e4_c192", "uir_r1_a3_k5_s1_e4_c192", "uir_r2_a5_k3_s1_e4_c192",
            "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192", "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192",
            "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192", "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a3_k0_s1_e4_c192",
        ],
        &[
            "uir_r4_a5_k5_s2_e4_c512", "uir_r1_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512", "uir_r2_a5_k0_s1_e4_c512",
            "uir_r1_a5_k3_s1_e4_c512", "uir_r1_a5_k5_s1_e4_c512", "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512",
            "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512", "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512",
            "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512",
        ],
        &["cn_r1_k1_s1_c960"],
    ],
    act: Act::Gelu,
    stem_chs: 24,
    layer_scale: true,
    ..MNV4
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
    variant!("fbnetv3_b", FBNETV3_B, 1.0, 1.0, false, EPS_TORCH),
    variant!("fbnetv3_d", FBNETV3_D, 1.0, 1.0, false, EPS_TORCH),
    variant!("fbnetv3_g", FBNETV3_G, 1.0, 1.0, false, EPS_TORCH),
    variant!("lcnet_035", LCNET, 0.35, 1.0, false, EPS_TORCH),
    variant!("lcnet_050", LCNET, 0.5, 1.0, false, EPS_TORCH),
    variant!("lcnet_075", LCNET, 0.75, 1.0, false, EPS_TORCH),
    variant!("lcnet_100", LCNET, 1.0, 1.0, false, EPS_TORCH),
    variant!("lcnet_150", LCNET, 1.5, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_small_035", MNV4_CONV_SMALL, 0.35, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_small_050", MNV4_CONV_SMALL, 0.5, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_small", MNV4_CONV_SMALL, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_medium", MNV4_CONV_MEDIUM, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_large", MNV4_CONV_LARGE, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_aa_medium", MNV4_CONV_AA_MEDIUM, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_blur_medium", MNV4_CONV_BLUR_MEDIUM, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_conv_aa_large", MNV4_CONV_AA_LARGE, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_hybrid_medium", MNV4_HYBRID_MEDIUM, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_hybrid_large", MNV4_HYBRID_LARGE, 1.0, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_hybrid_medium_075", MNV4_HYBRID_MEDIUM, 0.75, 1.0, false, EPS_TORCH),
    variant!("mobilenetv4_hybrid_large_075", MNV4_HYBRID_LARGE, 0.75, 1.0, false, EPS_TORCH),
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

/// Multi-query attention of an `mqa` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AttnSpec {
    pub num_heads: usize,
    /// Key and value dimension (one key/value head shared by all query heads).
    pub key_dim: usize,
    /// Stride of the depthwise key/value downsampling (1: none).
    pub kv_stride: usize,
}

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
    /// Expanded channels (IR, ER, UIR), = in_chs for DS, = out_chs for CN.
    pub mid_chs: usize,
    pub out_chs: usize,
    /// Depthwise kernel (UIR: the middle one, 0 = none); conv kernel for ER and CN.
    pub kernel: usize,
    /// UIR: depthwise kernel before the expansion (0 = none).
    pub dw_start_kernel: usize,
    pub stride: usize,
    pub act: Act,
    pub se: Option<SeSpec>,
    pub skip: bool,
    pub pw_act: bool,
    /// `mqa` blocks (kernel = the key/value downsampling kernel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attn: Option<AttnSpec>,
    /// A learned per-channel scale on the block's output branch (before the residual).
    pub layer_scale: bool,
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
    /// BN + act after the head conv (MobileNetV4) instead of an act alone.
    pub head_norm: bool,
    /// Anti-aliased downsampling in the blocks.
    pub aa: Option<AntiAlias>,
    pub num_classes: usize,
}

impl NetSpec {
    /// Resolve a variant into its layers (timm's EfficientNetBuilder logic).
    pub fn build(v: &Variant, num_classes: usize) -> Result<NetSpec> {
        let fam = v.family;
        let mult = v.channel_multiplier;
        let round_chs = |c: f64| round_channels_limit(c, mult, fam.round_limit);
        let stem_chs = if mult < fam.fix_stem_below { fam.stem_chs } else { round_chs(fam.stem_chs as f64) };
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
                    let out_chs = round_chs(d.out_chs as f64);
                    let act = d.act.unwrap_or(fam.act);
                    let mid_chs = match d.kind {
                        BlockKind::InvertedResidual | BlockKind::EdgeResidual | BlockKind::UniversalInvertedResidual => {
                            make_divisible(in_chs as f64 * d.exp_ratio, 8)
                        }
                        BlockKind::DepthwiseSeparable | BlockKind::MultiQueryAttention => in_chs,
                        BlockKind::ConvBnAct => out_chs,
                    };
                    if d.se_ratio > 0.0 && !matches!(d.kind, BlockKind::InvertedResidual | BlockKind::DepthwiseSeparable) {
                        return Err(bad(stage[0], "squeeze-excite is only supported in 'ir' and 'ds' blocks"));
                    }
                    let py_round = |x: f64| (x.round_ties_even() as usize).max(1);
                    let se = (d.se_ratio > 0.0).then(|| match fam.se {
                        SeStyle::Standard => SeSpec { rd_chs: round_channels(mid_chs as f64 * d.se_ratio, 1.0), act: Act::Relu },
                        SeStyle::Rw => SeSpec { rd_chs: py_round(mid_chs as f64 * d.se_ratio), act },
                        SeStyle::Lcnet => SeSpec { rd_chs: py_round(mid_chs as f64 * d.se_ratio), act: Act::Relu },
                        SeStyle::Fbnet => {
                            let ratio = if d.kind == BlockKind::InvertedResidual { d.se_ratio / d.exp_ratio } else { d.se_ratio };
                            SeSpec { rd_chs: round_chs(mid_chs as f64 * ratio), act }
                        }
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
                        dw_start_kernel: d.dw_start,
                        stride,
                        act,
                        se,
                        skip,
                        pw_act: d.pw_act,
                        attn: (d.kind == BlockKind::MultiQueryAttention).then_some(AttnSpec {
                            num_heads: d.num_heads,
                            key_dim: d.key_dim,
                            kv_stride: d.kv_stride,
                        }),
                        layer_scale: fam.layer_scale && matches!(d.kind, BlockKind::UniversalInvertedResidual | BlockKind::MultiQueryAttention),
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
            head_bias: fam.head == HeadStyle::Bias,
            head_norm: fam.head == HeadStyle::Norm,
            aa: fam.aa,
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
        let b = decode_block("mqa_r1_k3_h4_s1_v2_d64_c160").unwrap();
        assert_eq!((b.kind, b.kernel, b.num_heads, b.key_dim, b.kv_stride, b.out_chs), (BlockKind::MultiQueryAttention, 3, 4, 64, 2, 160));
        assert_eq!(decode_block("mqa_r1_k3_h8_s1_d48_c192").unwrap().kv_stride, 1);
        for bad in ["xx_r1_k3_s1_c16", "ir_r1_k3_s1", "ir_r1_k4_s1_c8", "ir_r1_k3_s3_c8", "ir_r1_k3_s1_c8_cc4", "ir_rX_k3_s1_c8", "mqa_r1_k3_h4_s2_d64_c160", "mqa_r1_k3_s1_d64_c160", "cn_r1_k1_s2_c8", "ir_r1_k3_s1_h4_c8"] {
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
