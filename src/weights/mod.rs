//! Loading a timm state_dict (safetensors) into a [`Network`]: every tensor the architecture needs
//! is looked up by its timm name and shape-checked, batch norm is folded into the preceding conv,
//! and weights are packed for the kernels. Like timm's `strict=True`, tensors the architecture
//! does not use are an error (they usually mean weights for a different model).

pub mod safetensors;

use crate::error::{Error, Result};
use crate::kernels::conv2d::pack_conv2d;
use crate::kernels::depthwise::PackedDepthwise;
use crate::kernels::pointwise::PackedPointwise;
use crate::kernels::squeeze_excite::SqueezeExcite;
use crate::kernels::Act;
use crate::model::arch::{BlockKind, NetSpec};
use crate::network::{Block, Network};
use safetensors::SafeTensors;
use std::collections::HashSet;

/// Where the loader gets tensors from: a safetensors file, or (in tests) a generator.
pub trait TensorSource {
    /// The tensor `name` as f32, which must have exactly `shape`.
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>>;
}

impl<F: FnMut(&str, &[usize]) -> Vec<f32>> TensorSource for F {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        Ok(self(name, shape))
    }
}

/// A safetensors file that remembers which tensors were read, to reject unused ones.
struct Tracked<'a> {
    st: SafeTensors<'a>,
    used: HashSet<String>,
}

impl TensorSource for Tracked<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self.st.f32(name, shape)?;
        self.used.insert(name.to_string());
        Ok(t)
    }
}

impl Tracked<'_> {
    fn check_all_used(&self) -> Result<()> {
        let mut extra: Vec<&str> = self.st.names().filter(|n| !self.used.contains(*n) && !n.ends_with("num_batches_tracked")).collect();
        extra.sort_unstable();
        if let Some(first) = extra.first() {
            return Err(Error::WeightsFormat(format!(
                "{} tensor(s) not used by this architecture, e.g. '{first}' (weights for a different model?)",
                extra.len()
            )));
        }
        Ok(())
    }
}

struct Loader<'s> {
    src: &'s mut dyn TensorSource,
    eps: f64,
}

impl Loader<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        self.src.tensor(name, shape)
    }

    /// Conv weight `{conv}.weight` of shape [out, in, k, k] followed by BatchNorm `{bn}`, folded:
    /// w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps).
    fn conv_bn(&mut self, conv: &str, bn: &str, out: usize, inp: usize, k: usize) -> Result<(Vec<f32>, Vec<f32>)> {
        let w = self.tensor(&format!("{conv}.weight"), &[out, inp, k, k])?;
        let gamma = self.tensor(&format!("{bn}.weight"), &[out])?;
        let beta = self.tensor(&format!("{bn}.bias"), &[out])?;
        let mean = self.tensor(&format!("{bn}.running_mean"), &[out])?;
        let var = self.tensor(&format!("{bn}.running_var"), &[out])?;
        let per = inp * k * k;
        let mut wf = vec![0f32; w.len()];
        let mut bf = vec![0f32; out];
        for o in 0..out {
            if !(var[o] >= 0.0) {
                return Err(Error::WeightsFormat(format!("'{bn}.running_var' has a negative or NaN entry at {o}")));
            }
            let scale = gamma[o] as f64 / (var[o] as f64 + self.eps).sqrt();
            for i in 0..per {
                wf[o * per + i] = (w[o * per + i] as f64 * scale) as f32;
            }
            bf[o] = (beta[o] as f64 - mean[o] as f64 * scale) as f32;
        }
        Ok((wf, bf))
    }

    /// A 1x1 conv (or Linear when `linear`) with its own bias, not followed by BN.
    fn dense(&mut self, name: &str, out: usize, inp: usize, bias: bool, linear: bool) -> Result<PackedPointwise> {
        let shape: &[usize] = if linear { &[out, inp] } else { &[out, inp, 1, 1] };
        let w = self.tensor(&format!("{name}.weight"), shape)?;
        let b = if bias { self.tensor(&format!("{name}.bias"), &[out])? } else { vec![0.0; out] };
        Ok(PackedPointwise::new(&w, &b, inp, out))
    }
}

/// Build the network described by `spec` from safetensors bytes.
pub fn load_network(spec: &NetSpec, bytes: &[u8]) -> Result<Network> {
    let mut file = Tracked { st: SafeTensors::parse(bytes)?, used: HashSet::new() };
    let net = load_network_from(spec, &mut file)?;
    file.check_all_used()?;
    Ok(net)
}

/// Build the network from any tensor source (timm names and PyTorch shapes).
pub fn load_network_from(spec: &NetSpec, src: &mut dyn TensorSource) -> Result<Network> {
    let mut l = Loader { src, eps: spec.bn_eps };

    let (w, b) = l.conv_bn("conv_stem", "bn1", spec.stem_chs, 3, 3)?;
    let stem = pack_conv2d(&w, &b, spec.stem_chs, 3, 3);

    let mut blocks = Vec::with_capacity(spec.blocks.len());
    for s in &spec.blocks {
        let p = &s.prefix;
        let pw = |l: &mut Loader, conv: &str, bn: &str, out: usize, inp: usize| -> Result<PackedPointwise> {
            let (w, b) = l.conv_bn(&format!("{p}.{conv}"), &format!("{p}.{bn}"), out, inp, 1)?;
            Ok(PackedPointwise::new(&w, &b, inp, out))
        };
        let dw = |l: &mut Loader, bn: &str| -> Result<PackedDepthwise> {
            let (w, b) = l.conv_bn(&format!("{p}.conv_dw"), &format!("{p}.{bn}"), s.mid_chs, 1, s.kernel)?;
            Ok(PackedDepthwise::new(&w, &b, s.mid_chs, s.kernel))
        };
        let se = |l: &mut Loader| -> Result<Option<SqueezeExcite>> {
            let Some(se) = &s.se else { return Ok(None) };
            Ok(Some(SqueezeExcite {
                reduce: l.dense(&format!("{p}.se.conv_reduce"), se.rd_chs, s.mid_chs, true, false)?,
                reduce_act: se.act,
                expand: l.dense(&format!("{p}.se.conv_expand"), s.mid_chs, se.rd_chs, true, false)?,
            }))
        };
        let block = match s.kind {
            BlockKind::InvertedResidual => Block {
                expand: Some(pw(&mut l, "conv_pw", "bn1", s.mid_chs, s.in_chs)?),
                depthwise: Some(dw(&mut l, "bn2")?),
                se: se(&mut l)?,
                project: pw(&mut l, "conv_pwl", "bn3", s.out_chs, s.mid_chs)?,
                project_act: Act::Identity,
                spec: s.clone(),
            },
            BlockKind::DepthwiseSeparable => Block {
                expand: None,
                depthwise: Some(dw(&mut l, "bn1")?),
                se: se(&mut l)?,
                project: pw(&mut l, "conv_pw", "bn2", s.out_chs, s.in_chs)?,
                project_act: if s.pw_act { s.act } else { Act::Identity },
                spec: s.clone(),
            },
            BlockKind::ConvBnAct => Block {
                expand: None,
                depthwise: None,
                se: None,
                project: pw(&mut l, "conv", "bn1", s.out_chs, s.in_chs)?,
                project_act: s.act,
                spec: s.clone(),
            },
        };
        blocks.push(block);
    }

    let head = l.dense("conv_head", spec.head_chs, spec.num_features, spec.head_bias, false)?;
    let classifier = l.dense("classifier", spec.num_classes, spec.head_chs, true, true)?;
    Ok(Network { spec: spec.clone(), stem, blocks, head, classifier })
}
