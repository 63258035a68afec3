//! Bad inputs give the specific error, never a panic.

mod common;

use common::*;
use mobilenetv3_wasm::model::config::ModelConfig;
use mobilenetv3_wasm::weights::safetensors::{serialize, SafeTensors};
use mobilenetv3_wasm::{image_io, Classifier, Error};
use std::collections::HashMap;
use std::process::Command;

const ARCH: &str = "mobilenetv3_small_050";

fn weights() -> Vec<u8> {
    random_weights(ARCH, &HashMap::new())
}

fn cfg() -> ModelConfig {
    ModelConfig::for_architecture(ARCH).unwrap()
}

/// Rewrite a safetensors file through `edit` on its (name, dtype, shape, bytes) list.
fn edit(bytes: &[u8], f: impl FnOnce(&mut Vec<(String, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let st = SafeTensors::parse(bytes).unwrap();
    let mut names: Vec<&str> = st.names().collect();
    names.sort_unstable();
    let mut ts: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|n| {
            let shape = st.info(n).unwrap().shape.clone();
            let v = st.f32(n, &shape).unwrap();
            (n.to_string(), shape, v.iter().flat_map(|x| x.to_le_bytes()).collect())
        })
        .collect();
    f(&mut ts);
    serialize(&ts.iter().map(|(n, s, b)| (n.as_str(), "F32", s.clone(), b.clone())).collect::<Vec<_>>())
}

#[test]
fn truncated_and_garbage_weights() {
    let w = weights();
    for cut in [0, 7, 8, 100, w.len() / 2, w.len() - 1] {
        match Classifier::new(&w[..cut], cfg()) {
            Err(Error::WeightsFormat(m)) => assert!(!m.is_empty()),
            Err(e) => panic!("cut {cut}: wrong error {e}"),
            Ok(_) => panic!("cut {cut}: truncated file accepted"),
        }
    }
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    assert!(matches!(Classifier::new(&garbage, cfg()), Err(Error::WeightsFormat(_))));
    assert!(matches!(Classifier::new(b"<html>404 Not Found</html>", cfg()), Err(Error::WeightsFormat(_))));
}

#[test]
fn missing_and_misshapen_tensors_are_named() {
    let w = weights();
    let missing = edit(&w, |ts| ts.retain(|t| t.0 != "blocks.2.1.conv_dw.weight"));
    match Classifier::new(&missing, cfg()) {
        Err(e @ Error::MissingTensor { .. }) => {
            assert_eq!(e.code(), "WEIGHTS_FORMAT");
            assert!(e.to_string().contains("blocks.2.1.conv_dw.weight"), "{e}");
        }
        other => panic!("expected MissingTensor, got {:?}", other.err()),
    }
    let reshaped = edit(&w, |ts| {
        let t = ts.iter_mut().find(|t| t.0 == "classifier.weight").unwrap();
        t.1 = vec![t.1[1], t.1[0]];
    });
    match Classifier::new(&reshaped, cfg()) {
        Err(Error::ShapeMismatch { name, expected, found }) => {
            assert_eq!(name, "classifier.weight");
            assert_eq!(expected, vec![found[1], found[0]]);
        }
        other => panic!("expected ShapeMismatch, got {:?}", other.err()),
    }
    let extra = edit(&w, |ts| ts.push(("head.fc.weight".into(), vec![2], vec![0; 8])));
    let e = Classifier::new(&extra, cfg()).err().expect("unused tensor accepted");
    assert!(e.to_string().contains("head.fc.weight"), "{e}");
}

#[test]
fn weights_for_another_architecture() {
    let other = random_weights("mobilenetv3_large_100", &HashMap::new());
    let e = Classifier::new(&other, cfg()).err().expect("large weights accepted as small");
    assert_eq!(e.code(), "WEIGHTS_FORMAT");
    assert!(matches!(e, Error::ShapeMismatch { .. } | Error::MissingTensor { .. }), "{e}");
}

#[test]
fn unknown_architecture() {
    let e = ModelConfig::for_architecture("efficientnet_b0").unwrap_err();
    assert_eq!(e.code(), "UNSUPPORTED_ARCH");
    assert!(e.to_string().contains("mobilenetv3_large_100"), "should list supported names: {e}");
    let e = ModelConfig::from_json(r#"{"architecture": "mobilenetv5_300m"}"#).unwrap_err();
    assert_eq!(e.code(), "UNSUPPORTED_ARCH");
}

#[test]
fn corrupt_images() {
    assert!(matches!(image_io::decode(b"definitely not an image"), Err(Error::ImageDecode(_))));
    assert!(matches!(image_io::decode(&[]), Err(Error::ImageDecode(_))));
    // A JPEG header followed by garbage, and a real JPEG cut in half.
    let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    fake.extend((0..2000u32).map(|i| (i * 7 + 3) as u8));
    assert!(matches!(image_io::decode(&fake), Err(Error::ImageDecode(_))));
    if let Some(shared) = shared_dir() {
        let jpg = std::fs::read(shared.join("photos/koala.jpg")).unwrap();
        for cut in [3, 200, jpg.len() / 2, jpg.len() - 2] {
            assert!(matches!(image_io::decode(&jpg[..cut]), Err(Error::ImageDecode(_))), "cut {cut}");
        }
        assert!(image_io::decode(&jpg).is_ok());
    }
    // Pixels that do not match their stated size.
    let mut clf = Classifier::new(&weights(), cfg()).unwrap();
    assert!(matches!(clf.classify_pixels(&[0; 12], 0, 4, 3), Err(Error::InvalidInput(_))));
    assert!(matches!(clf.classify_pixels(&[0; 11], 2, 2, 3), Err(Error::InvalidInput(_))));
    assert!(clf.classify_pixels(&[7; 12], 2, 2, 3).is_ok(), "a 2x2 image is small but valid");
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mnv3-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn cli_reports_bad_files_and_keeps_going() {
    let dir = tempdir("cli");
    std::fs::write(dir.join("model.safetensors"), weights()).unwrap();
    std::fs::write(dir.join("config.json"), format!(r#"{{"architecture": "{ARCH}", "num_classes": 1000}}"#)).unwrap();
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    // A real (tiny) PNG written by the image crate.
    let png = dir.join("gray.png");
    image::RgbImage::from_pixel(40, 30, image::Rgb([120, 130, 140])).save(&png).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mobilenetv3"))
        .args(["classify", "--json", "--top", "3", "--weights"])
        .arg(dir.join("model.safetensors"))
        .arg(&png)
        .arg(dir.join("missing.jpg"))
        .arg(dir.join("notes.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "bad files must give a non-zero exit");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "one JSON line per input file:\n{stdout}");
    assert_eq!(lines[0]["top"].as_array().unwrap().len(), 3);
    assert!(lines[0]["top"][0]["probability"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[1]["error"]["code"], "FILE_READ");
    assert!(lines[1]["error"]["message"].as_str().unwrap().contains("no such file"), "{stdout}");
    assert_eq!(lines[2]["error"]["code"], "IMAGE_DECODE");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("missing.jpg") && stderr.contains("notes.txt"), "{stderr}");

    // Without a config beside the weights: a clear message, exit 2.
    let lone = tempdir("lone");
    std::fs::write(lone.join("weights.safetensors"), weights()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mobilenetv3")).args(["classify", "--weights"]).arg(lone.join("weights.safetensors")).arg(&png).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(lone);
}
