//! Genuine ImageNet weights from ../shared/weights (read its README): timm's reference logits
//! within 1e-3, and the 16 labeled photos get timm's top-5. Skips with a message when the shared
//! data is absent; fails when CI is set and it is absent.

mod common;

use common::*;
use mobilenetv3_wasm::model::config::ModelConfig;
use mobilenetv3_wasm::weights::safetensors::SafeTensors;
use mobilenetv3_wasm::{image_io, Classifier};
use serde_json::Value;
use std::path::Path;

const MODELS: [&str; 2] = ["tf_mobilenetv3_small_100", "tf_mobilenetv3_large_minimal_100"];

fn load(shared: &Path, model: &str) -> Classifier {
    let w = std::fs::read(shared.join(format!("weights/{model}.safetensors"))).unwrap();
    let c = std::fs::read_to_string(shared.join(format!("weights/{model}.config.json"))).unwrap();
    Classifier::new(&w, ModelConfig::from_json(&c).unwrap()).unwrap()
}

#[test]
fn reference_logits_within_1e3() {
    let Some(shared) = shared_dir() else { return };
    for model in MODELS {
        let mut clf = load(&shared, model);
        let bytes = std::fs::read(shared.join(format!("weights/{model}_fixture.safetensors"))).unwrap();
        let fx = SafeTensors::parse(&bytes).unwrap();
        let input = fx.f32("input", &[4, 3, 224, 224]).unwrap();
        let logits = fx.f32("logits", &[4, 1000]).unwrap();
        let pre = fx.f32("pre_logits", &[4, clf.network.spec.head_chs]).unwrap();
        let mut worst = 0f32;
        for n in 0..4 {
            let p = clf.forward(&nchw_image_to_nhwc(&input, n, 224), 224).unwrap();
            let want = &logits[n * 1000..(n + 1) * 1000];
            let d = max_abs_diff(&p.logits, want).max(max_abs_diff(&p.embedding, &pre[n * p.embedding.len()..(n + 1) * p.embedding.len()]));
            worst = worst.max(d);
            assert_eq!(argmax(&p.logits), argmax(want), "{model} image {n}: top-1 differs from timm");
        }
        println!("{model}: max |logit diff| vs timm = {worst:.2e}");
        assert!(worst <= 1e-3, "{model}: max abs logit diff {worst} > 1e-3");
    }
}

/// Photos decoded as timm decodes them, then our preprocessing and network.
#[test]
fn photos_get_timm_top5() {
    let Some(shared) = shared_dir() else { return };
    let refs: Value = serde_json::from_str(&std::fs::read_to_string(shared.join("photos/timm_reference_top5.json")).unwrap()).unwrap();
    let mut report = Vec::new();
    for model in MODELS {
        let mut clf = load(&shared, model);
        let mut top1_ok = 0;
        let mut top5_same = 0;
        let mut max_p_diff = 0f32;
        let photos = refs.as_object().unwrap();
        for (file, r) in photos {
            let img = image_io::open(&shared.join("photos").join(file)).unwrap();
            let p = clf.classify_pixels(&img.pixels, img.width, img.height, 3).unwrap();
            let want: Vec<usize> = r[model]["top5"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let want_p: Vec<f32> = r[model]["p5"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            let got: Vec<usize> = p.top(5).iter().map(|c| c.index).collect();
            assert_eq!(got[0], want[0], "{model} {file}: top-1 {} ({}) but timm says {}", got[0], p.top(1)[0].label, want[0]);
            top1_ok += 1;
            if got == want {
                top5_same += 1;
            }
            for (i, &c) in want.iter().enumerate() {
                max_p_diff = max_p_diff.max((p.probabilities[c] - want_p[i]).abs());
            }
        }
        report.push(format!("{model}: top-1 {top1_ok}/{n}, identical top-5 {top5_same}/{n}, max prob diff {max_p_diff:.1e}", n = photos.len()));
        // Decoding and preprocessing are bit-exact with timm's, so nothing but float rounding
        // in the network separates us from timm.
        assert_eq!(top5_same, photos.len(), "{model}: top-5 lists differ from timm");
        assert!(max_p_diff <= 1e-4, "{model}: probabilities differ from timm by {max_p_diff}");
    }
    println!("{}", report.join("\n"));
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

/// Image `n` of an NCHW batch of `size` x `size` images, as one NHWC tensor.
fn nchw_image_to_nhwc(batch: &[f32], n: usize, size: usize) -> Vec<f32> {
    let img = &batch[n * 3 * size * size..(n + 1) * 3 * size * size];
    (0..size * size * 3).map(|i| img[(i % 3) * size * size + i / 3]).collect()
}

/// timm checkpoints also come in half precision: F16 and BF16 files load (converted to f32) and
/// still give timm's top-1 on the reference images.
#[test]
fn half_precision_weights() {
    let Some(shared) = shared_dir() else { return };
    let model = "tf_mobilenetv3_small_100";
    let f32_bytes = std::fs::read(shared.join(format!("weights/{model}.safetensors"))).unwrap();
    let config = std::fs::read_to_string(shared.join(format!("weights/{model}.config.json"))).unwrap();
    let fx_bytes = std::fs::read(shared.join(format!("weights/{model}_fixture.safetensors"))).unwrap();
    let fx = SafeTensors::parse(&fx_bytes).unwrap();
    let input = fx.f32("input", &[4, 3, 224, 224]).unwrap();
    let logits = fx.f32("logits", &[4, 1000]).unwrap();
    for (dtype, tol) in [("F16", 0.1f32), ("BF16", 1.0)] {
        let bytes = convert_weights(&f32_bytes, dtype);
        let mut clf = Classifier::new(&bytes, ModelConfig::from_json(&config).unwrap()).unwrap();
        let mut worst = 0f32;
        for n in 0..4 {
            let p = clf.forward(&nchw_image_to_nhwc(&input, n, 224), 224).unwrap();
            let want = &logits[n * 1000..(n + 1) * 1000];
            worst = worst.max(max_abs_diff(&p.logits, want));
            assert_eq!(argmax(&p.logits), argmax(want), "{dtype} image {n}: top-1 differs");
        }
        println!("{model} as {dtype}: max |logit diff| vs timm (f32) = {worst:.3}");
        assert!(worst > 0.0 && worst < tol, "{dtype}: logit diff {worst} (expected rounding noise below {tol})");
    }
}
