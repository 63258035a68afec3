//! The model registry has one source per fact: weights/models.json lists the published
//! checkpoints (js/models.js is generated from it by weights/sync-models.mjs, checked by
//! tests/browser/package.test.mjs); the engine's
//! architecture list (src/model/arch.rs) and timm's per-tag preprocessing defaults
//! (src/model/config.rs) must agree with every entry.

use mobilenetv3_wasm::model::arch::find_variant;
use mobilenetv3_wasm::ModelConfig;
use serde_json::Value;

#[test]
fn models_json_agrees_with_the_engine() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/weights/models.json");
    let text = std::fs::read_to_string(path).expect("weights/models.json");
    let reg: Value = serde_json::from_str(&text).expect("weights/models.json is JSON");
    let models = reg["models"].as_array().expect("models array");
    assert!(!models.is_empty());
    let default = reg["default"].as_str().expect("default model");
    assert!(models.iter().any(|m| m["name"] == default), "default '{default}' is not listed");
    for m in models {
        let name = m["name"].as_str().unwrap();
        let arch = m["architecture"].as_str().unwrap();
        let tag = m["tag"].as_str().unwrap();
        assert_eq!(find_variant(arch).map(|v| v.name).ok(), Some(arch), "{name}: architecture not supported by the engine");
        assert!(name == arch || name == format!("{arch}.{tag}"), "{name}: name must be ARCH or ARCH.TAG");
        let cfg = ModelConfig::for_architecture(&format!("{arch}.{tag}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(cfg.preprocess.input_size as u64), m["inputSize"].as_u64(), "{name}: inputSize differs from timm's pretrained_cfg");
        assert_eq!(cfg.num_classes, 1000, "{name}: the registry lists ImageNet-1k heads");
        for url in ["weightsUrl", "configUrl"] {
            let u = m[url].as_str().unwrap();
            assert!(u.starts_with(&format!("https://huggingface.co/timm/{arch}.{tag}/")), "{name}: {url} {u}");
        }
    }
}
