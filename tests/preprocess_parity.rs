//! timm's eval transform (PIL resize + torchvision center crop) reproduced bit for bit: uint8
//! crops from tools/make_fixtures.py for awkward sizes, both filters, several crop_pct.

mod common;

use common::*;
use mobilenetv3_wasm::model::config::{Interpolation, PreprocessConfig};
use mobilenetv3_wasm::preprocess::{preprocess, Preprocessor};
use mobilenetv3_wasm::testutil::uniform;
use mobilenetv3_wasm::weights::safetensors::SafeTensors;
use serde_json::Value;

fn case_image(c: &Value) -> (usize, usize, Vec<u8>) {
    let (w, h) = (c["width"].as_u64().unwrap() as usize, c["height"].as_u64().unwrap() as usize);
    let seed = c["seed"].as_u64().unwrap();
    // Same as numpy: uniform [0, 256) in f32, then astype(uint8) truncates.
    let px = (0..(w * h * 3) as u64).map(|i| uniform(seed, i, 0.0, 256.0) as u8).collect();
    (w, h, px)
}

fn case_cfg(c: &Value) -> PreprocessConfig {
    PreprocessConfig {
        input_size: c["input_size"].as_u64().unwrap() as usize,
        crop_pct: c["crop_pct"].as_f64().unwrap(),
        interpolation: if c["interpolation"] == "bicubic" { Interpolation::Bicubic } else { Interpolation::Bilinear },
        mean: [0.5; 3],
        std: [0.5; 3],
    }
}

#[test]
fn crops_equal_pil_byte_for_byte() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&fx.metadata()["preprocess_cases"]).unwrap();
    assert!(cases.len() >= 10);
    for (i, c) in cases.iter().enumerate() {
        let (w, h, px) = case_image(c);
        let cfg = case_cfg(c);
        let mut p = Preprocessor::new(&cfg, w, h).unwrap();
        p.push_rows(0, &px, 3, w * 3).unwrap();
        let got = p.finish_u8().unwrap();
        let want = fx.u8(&format!("preprocess/{i}/crop")).unwrap();
        let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "case {i} {c}: {differing} of {} bytes differ from PIL", want.len());
    }
}

#[test]
fn normalized_tensor_equals_torchvision() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&fx.metadata()["preprocess_cases"]).unwrap();
    let c = &cases[0];
    let (w, h, px) = case_image(c);
    let cfg = case_cfg(c);
    let s = cfg.input_size;
    let nhwc = preprocess(&cfg, &px, w, h, 3).unwrap();
    let nchw = fx.f32("preprocess/0/tensor", &[3, s, s]).unwrap();
    for ch in 0..3 {
        for i in 0..s * s {
            assert_eq!(nhwc[i * 3 + ch].to_bits(), nchw[ch * s * s + i].to_bits(), "channel {ch} pixel {i}");
        }
    }
}
