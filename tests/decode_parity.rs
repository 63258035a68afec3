//! The CLI decodes files exactly as timm's loader does (`PIL.Image.open(f).convert('RGB')`):
//! small files in many encodings, each compared byte for byte with Pillow's pixels
//! (written by tools/make_fixtures.py).

mod common;

use common::*;
use mobilenetv3_wasm::image_io;
use mobilenetv3_wasm::weights::safetensors::SafeTensors;

#[test]
fn every_encoding_decodes_like_pillow() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let names: Vec<String> = serde_json::from_str(&fx.metadata()["decode_cases"]).unwrap();
    assert!(names.len() >= 10);
    let mut failures = Vec::new();
    for name in &names {
        let want = fx.u8(&format!("decode/{name}")).unwrap();
        match image_io::open(&root().join("tests/fixtures/decode").join(name)) {
            Ok(img) => {
                if img.pixels.len() != want.len() {
                    failures.push(format!("{name}: {}x{} ({} bytes), Pillow has {} bytes", img.width, img.height, img.pixels.len(), want.len()));
                    continue;
                }
                let diff: Vec<u32> = img.pixels.iter().zip(want).map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs()).collect();
                let differing = diff.iter().filter(|&&d| d > 0).count();
                if differing > 0 {
                    failures.push(format!("{name}: {differing} of {} bytes differ from Pillow (max {})", diff.len(), diff.iter().max().unwrap()));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "decoding differs from Pillow:\n{}", failures.join("\n"));
}
