//! Exactness against timm: every supported architecture, with the deterministic pseudo-random
//! weights of tools/make_fixtures.py rebuilt here, must reproduce timm's logits and pre_logits
//! within 1e-4 (max abs) at the default input size of its pretrained_cfg (224 for most) and at an
//! odd size (193).

mod common;

use common::*;
use mobilenetv3_wasm::model::config::ModelConfig;
use mobilenetv3_wasm::weights::safetensors::SafeTensors;
use mobilenetv3_wasm::Classifier;

const TOL: f32 = 1e-4;

#[test]
fn every_architecture_matches_timm() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let archs: Vec<String> = serde_json::from_str(&fx.metadata()["archs"]).unwrap();
    let default_sizes: Vec<usize> = serde_json::from_str(&fx.metadata()["input_sizes"]).unwrap();
    let supported: Vec<&str> = mobilenetv3_wasm::model::arch::VARIANTS.iter().map(|v| v.name).collect();
    assert_eq!(archs, supported, "the fixture must cover every supported architecture, in registry order");
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for arch in &archs {
        let weights = random_weights(arch, &bn_scales(&fx, arch));
        let mut clf = Classifier::new(&weights, ModelConfig::for_architecture(arch).unwrap()).unwrap();
        let mut worst = 0f32;
        // The default input size of the architecture's pretrained_cfg and an odd size.
        let sizes: Vec<usize> = fx.metadata().get(&format!("{arch}/input_sizes")).map_or(default_sizes.clone(), |s| serde_json::from_str(s).unwrap());
        for &size in &sizes {
            let pred = clf.forward(&fixture_input(&fx, size), size).unwrap();
            let want_logits = fx.f32(&format!("{arch}/{size}/logits"), &[1000]).unwrap();
            let want_pre = fx.f32(&format!("{arch}/{size}/pre_logits"), &[pred.embedding.len()]).unwrap();
            let d = max_abs_diff(&pred.logits, &want_logits).max(max_abs_diff(&pred.embedding, &want_pre));
            worst = worst.max(d);
            if !(d <= TOL) {
                failures.push(format!("{arch} @ {size}: max abs diff {d:e}"));
            }
        }
        report.push(format!("{arch:34} max |logit/pre_logit diff| = {worst:.2e}"));
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "differences above {TOL}:\n{}", failures.join("\n"));
}

/// The engine reads exactly timm's state_dict: every name, with its shape, and nothing else.
#[test]
fn every_architecture_reads_timms_state_dict() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let archs: Vec<String> = serde_json::from_str(&fx.metadata()["archs"]).unwrap();
    for arch in &archs {
        let want: std::collections::BTreeMap<String, Vec<usize>> =
            serde_json::from_str(fx.metadata().get(&format!("{arch}/state_dict")).unwrap_or_else(|| panic!("no state_dict for {arch}"))).unwrap();
        let got: std::collections::BTreeMap<String, Vec<usize>> = requested_tensors(arch).into_iter().collect();
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{arch}: not read {missing:?}, not in timm {extra:?}");
        for (k, shape) in &want {
            assert_eq!(&got[k], shape, "{arch}: shape of {k}");
        }
    }
}

#[cfg(not(target_family = "wasm"))] // no threads under WASI
#[test]
fn results_do_not_depend_on_thread_count() {
    let bytes = fixture_bytes();
    let fx = SafeTensors::parse(&bytes).unwrap();
    let arch = "mobilenetv3_large_100";
    let weights = random_weights(arch, &bn_scales(&fx, arch));
    let input = fixture_input(&fx, 224);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut clf = Classifier::new(&weights, ModelConfig::for_architecture(arch).unwrap()).unwrap();
        // Only one team runs at a time per process (another test may hold it): retry until
        // this pass really ran on `threads` threads.
        for _ in 0..2000 {
            let p = pool.install(|| clf.forward(&input, 224).unwrap());
            if clf.last_team_size() == threads {
                return p;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("no forward pass ran on {threads} threads");
    };
    let one = run(1);
    for t in [2, 3, 8] {
        let many = run(t);
        let same = one.logits.iter().zip(&many.logits).all(|(a, b)| a.to_bits() == b.to_bits())
            && one.embedding.iter().zip(&many.embedding).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{t} threads changed the output");
    }
}
