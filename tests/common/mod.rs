//! Helpers shared by the integration tests.
#![allow(dead_code)]

use mobilenetv3_wasm::model::arch::{find_variant, NetSpec};
use mobilenetv3_wasm::testutil::{fnv1a, uniform};
use mobilenetv3_wasm::weights::safetensors::{serialize, SafeTensors};
use mobilenetv3_wasm::weights::load_network_from;
use std::collections::HashMap;
use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_bytes() -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/timm_reference.safetensors")).expect("tests/fixtures/timm_reference.safetensors")
}

/// `../shared` (genuine weights and photos). In CI (env CI set) a missing directory is a
/// failure; elsewhere the caller skips with a message.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MOBILENETV3_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"));
    if dir.join("weights/README.md").exists() && dir.join("photos/labels.csv").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the shared test data is missing at {} (weights/ and photos/)", dir.display());
    }
    eprintln!("SKIPPED: shared test data not found at {} (set MOBILENETV3_SHARED); genuine-weight tests did not run", dir.display());
    None
}

/// Same as `weight_range` in tools/make_fixtures.py.
pub fn weight_range(name: &str, shape: &[usize]) -> (f64, f64) {
    if name.ends_with("running_var") {
        return (0.5, 1.5);
    }
    if name.ends_with("running_mean") {
        return (-0.2, 0.2);
    }
    if shape.len() == 1 {
        let parts: Vec<&str> = name.split('.').collect();
        let module = parts[parts.len() - 2];
        if name.ends_with("layer_scale.gamma") {
            return (0.5, 1.5);
        }
        let bn = module.starts_with("bn") || module == "norm_head" || module == "norm";
        return if bn && name.ends_with(".weight") { (0.6, 1.2) } else { (-0.2, 0.2) };
    }
    let fan_in: usize = shape[1..].iter().product();
    let a = (3.0 / fan_in as f64).sqrt();
    (-a, a)
}

/// Same as `tensor_values` in tools/make_fixtures.py.
pub fn tensor_values(name: &str, shape: &[usize], bn_scale: &HashMap<String, f64>) -> Vec<f32> {
    let (lo, hi) = weight_range(name, shape);
    let n: usize = shape.iter().product();
    let seed = fnv1a(name);
    let mut v: Vec<f32> = (0..n as u64).map(|i| uniform(seed, i, lo, hi)).collect();
    let module = name.rsplit_once('.').map(|(m, _)| m).unwrap_or("");
    if let Some(&s) = bn_scale.get(module) {
        if name.ends_with("running_mean") {
            v.iter_mut().for_each(|x| *x = (*x as f64 * s) as f32);
        } else if name.ends_with("running_var") {
            v.iter_mut().for_each(|x| *x = (*x as f64 * (s * s)) as f32);
        }
    }
    v
}

/// The architecture's state_dict filled by the generator, as a safetensors file.
pub fn random_weights(arch: &str, bn_scale: &HashMap<String, f64>) -> Vec<u8> {
    let spec = NetSpec::build(find_variant(arch).unwrap(), 1000).unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut record = |name: &str, shape: &[usize]| {
        let v = tensor_values(name, shape, bn_scale);
        tensors.push((name.to_string(), shape.to_vec(), v.clone()));
        v
    };
    load_network_from(&spec, &mut record).unwrap();
    let raw: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), "F32", s.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    serialize(&raw)
}

/// Names and shapes of every tensor the engine reads for `arch`, in reading order.
pub fn requested_tensors(arch: &str) -> Vec<(String, Vec<usize>)> {
    let spec = NetSpec::build(find_variant(arch).unwrap(), 1000).unwrap();
    let mut names = Vec::new();
    let mut record = |name: &str, shape: &[usize]| {
        names.push((name.to_string(), shape.to_vec()));
        vec![0.5; shape.iter().product()]
    };
    load_network_from(&spec, &mut record).unwrap();
    names
}

pub fn bn_scales(fixture: &SafeTensors, arch: &str) -> HashMap<String, f64> {
    let m = fixture.metadata().get(&format!("{arch}/bn_scale")).unwrap_or_else(|| panic!("no bn_scale for {arch}"));
    serde_json::from_str(m).unwrap()
}

/// The fixture input for `size`, NCHW generator order, returned as NHWC.
pub fn fixture_input(fixture: &SafeTensors, size: usize) -> Vec<f32> {
    let seed: u64 = fixture.metadata()["input_seed"].parse().unwrap();
    let mut out = vec![0f32; 3 * size * size];
    for c in 0..3 {
        for y in 0..size {
            for x in 0..size {
                let i = ((c * size + y) * size + x) as u64;
                out[(y * size + x) * 3 + c] = uniform(seed + size as u64, i, -2.0, 2.0);
            }
        }
    }
    out
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// IEEE single -> half, round to nearest even (for tests that store weights as F16).
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = m & ((1 << shift) - 1);
        let mut v = m >> shift;
        if rest > half || (rest == half && v & 1 == 1) {
            v += 1;
        }
        return sign | v as u16;
    }
    let mut v = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && v & 1 == 1) {
        v += 1; // may carry into the exponent, which is the correct rounding
    }
    sign | v as u16
}

/// IEEE single -> bfloat16, round to nearest even.
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    let rounding = 0x7fff + ((b >> 16) & 1);
    ((b + rounding) >> 16) as u16
}

/// Rewrite every F32 tensor of a safetensors file as `dtype` ("F16" or "BF16").
pub fn convert_weights(bytes: &[u8], dtype: &str) -> Vec<u8> {
    use mobilenetv3_wasm::weights::safetensors::{serialize, Dtype};
    let st = SafeTensors::parse(bytes).unwrap();
    let mut names: Vec<&str> = st.names().collect();
    names.sort_unstable();
    let conv: fn(f32) -> u16 = if dtype == "F16" { f32_to_f16 } else { f32_to_bf16 };
    let tensors: Vec<(String, String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|n| {
            let info = st.info(n).unwrap();
            if info.dtype == Dtype::F32 {
                let v = st.f32(n, &info.shape).unwrap();
                (n.to_string(), dtype.to_string(), info.shape.clone(), v.iter().flat_map(|x| conv(*x).to_le_bytes()).collect())
            } else {
                (n.to_string(), "I64".to_string(), info.shape.clone(), vec![0u8; 8 * info.shape.iter().product::<usize>()])
            }
        })
        .collect();
    serialize(&tensors.iter().map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone())).collect::<Vec<_>>())
}
