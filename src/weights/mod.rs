//! Loading a timm state_dict (safetensors): every tensor a step of the op list needs is looked
//! up by the timm name the list gives and shape-checked, and batch norm is folded into the conv
//! before it, in a neutral layout (packing for the CPU kernels is `Network::prepare`). Like
//! timm's `strict=True`, tensors the architecture does not use are an error (they usually mean
//! weights for a different model).

pub mod safetensors;

use crate::error::{Error, Result};
use crate::model::arch::NetSpec;
use crate::model::ops::{OpList, Weights};
use crate::network::Network;
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

/// A conv or linear layer with any BatchNorm folded in, in the neutral PyTorch layout
/// (`w` as the tensor's [out, in/groups, k, k] or [out, in]); `b` has one bias per output.
#[derive(Clone, Debug)]
pub struct Folded {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// Read and fold the parameters `w` describes: `{conv}.weight` (ones for a BatchNorm alone),
/// then BatchNorm `{bn}` folded (w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma /
/// sqrt(var + eps)), or `{conv}.bias`, or a zero bias; then the layer scale, if any.
fn load(src: &mut dyn TensorSource, w: &Weights, eps: f64) -> Result<Folded> {
    let mut f = load_conv_bn(src, w, eps)?;
    if let Some(ls) = &w.layer_scale {
        let gamma = src.tensor(&format!("{ls}.gamma"), &[w.out_chs()])?;
        let per = f.w.len() / gamma.len();
        for (o, &g) in gamma.iter().enumerate() {
            f.w[o * per..(o + 1) * per].iter_mut().for_each(|x| *x *= g);
            f.b[o] *= g;
        }
    }
    Ok(f)
}

fn load_conv_bn(src: &mut dyn TensorSource, w: &Weights, eps: f64) -> Result<Folded> {
    let conv = &w.conv;
    let out = w.out_chs();
    let wt = if w.norm_only { vec![1.0; w.shape.iter().product()] } else { src.tensor(&format!("{conv}.weight"), &w.shape)? };
    let Some(bn) = &w.bn else {
        let b = if w.bias { src.tensor(&format!("{conv}.bias"), &[out])? } else { vec![0.0; out] };
        return Ok(Folded { w: wt, b });
    };
    let gamma = src.tensor(&format!("{bn}.weight"), &[out])?;
    let beta = src.tensor(&format!("{bn}.bias"), &[out])?;
    let mean = src.tensor(&format!("{bn}.running_mean"), &[out])?;
    let var = src.tensor(&format!("{bn}.running_var"), &[out])?;
    let per = wt.len() / out;
    let mut wf = vec![0f32; wt.len()];
    let mut bf = vec![0f32; out];
    for o in 0..out {
        if !(var[o] >= 0.0) {
            return Err(Error::WeightsFormat(format!("'{bn}.running_var' has a negative or NaN entry at {o}")));
        }
        let scale = gamma[o] as f64 / (var[o] as f64 + eps).sqrt();
        for i in 0..per {
            wf[o * per + i] = (wt[o * per + i] as f64 * scale) as f32;
        }
        bf[o] = (beta[o] as f64 - mean[o] as f64 * scale) as f32;
    }
    Ok(Folded { w: wf, b: bf })
}

/// Every step's parameters, looked up by the timm names the op list gives, shape-checked and
/// folded (one `Vec<Folded>` per step, in [`Op::weights`] order).
pub fn load_weights(ops: &OpList, src: &mut dyn TensorSource) -> Result<Vec<Vec<Folded>>> {
    ops.steps.iter().map(|s| s.op.weights().into_iter().map(|w| load(src, w, ops.bn_eps)).collect()).collect()
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
    let ops = OpList::build(spec);
    let folded = load_weights(&ops, src)?;
    Ok(Network::prepare(spec.clone(), ops, folded))
}
