//! Entry points shared by the `cargo fuzz` targets (`fuzz/`) and the test that replays the
//! inputs they found (`tests/fuzz_regressions.rs`): each takes arbitrary bytes and must return
//! without panicking; where the input is accepted it checks the result is usable (finite numbers,
//! consistent sizes) and panics otherwise, which the fuzzer reports as a crash.

use crate::model::config::ModelConfig;
use crate::weights::safetensors::SafeTensors;

/// The safetensors parser, its f32 conversion, and loading into a small architecture.
pub fn safetensors(data: &[u8]) {
    let Ok(st) = SafeTensors::parse(data) else { return };
    let names: Vec<String> = st.names().map(str::to_string).collect();
    for n in &names {
        let shape = st.info(n).expect("listed tensor").shape.clone();
        if let Ok(v) = st.f32(n, &shape) {
            assert!(v.iter().all(|x| x.is_finite()), "accepted non-finite values in {n}");
            assert_eq!(v.len(), shape.iter().product::<usize>(), "{n}: wrong element count");
        }
    }
    if let Ok(cfg) = ModelConfig::for_architecture("mobilenetv3_small_050") {
        let _ = crate::Classifier::new(data, cfg);
    }
}

/// config.json parsing; an accepted config must give a buildable network and sane preprocessing.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = ModelConfig::from_json(text) else { return };
    let p = &cfg.preprocess;
    assert!(p.mean.iter().chain(&p.std).all(|x| x.is_finite()), "non-finite mean/std accepted");
    assert!(p.std.iter().all(|&s| s > 0.0), "non-positive std accepted");
    assert!(p.crop_pct.is_finite() && p.crop_pct > 0.0);
    assert!(p.scale_size() > 0);
    assert_eq!(cfg.labels.len(), cfg.num_classes, "one label per class");
    let _ = cfg.net_spec();
}

/// timm block-string decoding (`ir_r3_k5_s2_e3_c40_se0.25_nre`).
pub fn block_string(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(b) = crate::model::arch::decode_block(s) else { return };
    assert!(b.repeats > 0 && b.out_chs > 0 && b.kernel % 2 == 1 && (1..=2).contains(&b.stride));
    assert!(b.exp_ratio.is_finite() && b.se_ratio.is_finite());
    let _ = crate::model::arch::round_channels(b.out_chs as f64, b.exp_ratio);
}

/// The header check, then (natively) decoding and timm's preprocessing of what decodes.
pub fn image(data: &[u8]) {
    let header = crate::image_header::check_header(data);
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(img) = crate::image_io::decode(data) {
        assert!(header.is_ok(), "decoded an image whose header is over the limit");
        assert_eq!(img.pixels.len(), img.width * img.height * 3, "pixel count");
        crate::image_header::check_dimensions(img.width as u64, img.height as u64).expect("decoded image within the limit");
        let cfg = crate::PreprocessConfig { input_size: 32, ..Default::default() };
        let t = crate::preprocess::preprocess(&cfg, &img.pixels, img.width, img.height, 3).expect("a decoded image preprocesses");
        assert!(t.iter().all(|x| x.is_finite()));
    }
    let _ = header;
}
