//! timm's Hugging Face `config.json`: architecture, classes, labels and the `pretrained_cfg` that
//! drives preprocessing. Defaults follow timm's `_cfg()` for MobileNetV3 when a field is absent.

use crate::error::{Error, Result};
use crate::labels;
use crate::model::arch::{find_variant, NetSpec, Variant};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Bilinear,
    Bicubic,
}

/// Preprocessing settings (timm's eval transform).
#[derive(Clone, Debug, PartialEq)]
pub struct PreprocessConfig {
    pub input_size: usize,
    pub crop_pct: f64,
    pub interpolation: Interpolation,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            input_size: 224,
            crop_pct: 0.875,
            interpolation: Interpolation::Bilinear,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl PreprocessConfig {
    /// Shorter side after resizing: floor(input_size / crop_pct), as timm computes it.
    pub fn scale_size(&self) -> usize {
        (self.input_size as f64 / self.crop_pct).floor() as usize
    }
}

#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The architecture as written in the config (may carry a pretrained tag).
    pub architecture: String,
    pub variant: &'static Variant,
    pub num_classes: usize,
    pub preprocess: PreprocessConfig,
    /// One display label per class.
    pub labels: Vec<String>,
}

const IMAGENET: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
const INCEPTION: ([f32; 3], [f32; 3]) = ([0.5; 3], [0.5; 3]);
const MIIL: ([f32; 3], [f32; 3]) = ([0.0; 3], [1.0; 3]);

/// timm's `default_cfgs` for the MobileNetV3 tags (`timm/models/mobilenetv3.py`): the first tag
/// listed for an architecture is its default. Returns (num_classes, preprocessing).
fn timm_default_cfg(arch: &str, tag: Option<&str>) -> Result<(usize, PreprocessConfig)> {
    use Interpolation::{Bicubic, Bilinear};
    // (architecture, tag, classes, input size, crop_pct, interpolation, mean/std)
    #[rustfmt::skip]
    const CFGS: &[(&str, &str, usize, usize, f64, Interpolation, ([f32; 3], [f32; 3]))] = &[
        ("mobilenetv3_large_075", "untrained", 1000, 224, 0.875, Bilinear, IMAGENET),
        ("mobilenetv3_large_100", "ra_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv3_large_100", "ra4_e3600_r224_in1k", 1000, 224, 0.95, Bicubic, INCEPTION),
        ("mobilenetv3_large_100", "miil_in21k_ft_in1k", 1000, 224, 0.875, Bilinear, MIIL),
        ("mobilenetv3_large_100", "miil_in21k", 11221, 224, 0.875, Bilinear, MIIL),
        ("mobilenetv3_large_150d", "ra4_e3600_r256_in1k", 1000, 256, 0.95, Bilinear, INCEPTION),
        ("mobilenetv3_small_050", "lamb_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv3_small_075", "lamb_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv3_small_100", "lamb_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv3_rw", "rmsp_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("tf_mobilenetv3_large_075", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("tf_mobilenetv3_large_100", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("tf_mobilenetv3_large_minimal_100", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("tf_mobilenetv3_small_075", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("tf_mobilenetv3_small_100", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("tf_mobilenetv3_small_minimal_100", "in1k", 1000, 224, 0.875, Bilinear, INCEPTION),
        ("fbnetv3_b", "ra2_in1k", 1000, 224, 0.95, Bilinear, IMAGENET),
        ("fbnetv3_d", "ra2_in1k", 1000, 224, 0.95, Bilinear, IMAGENET),
        ("fbnetv3_g", "ra2_in1k", 1000, 240, 0.95, Bilinear, IMAGENET),
        ("lcnet_035", "untrained", 1000, 224, 0.875, Bilinear, IMAGENET),
        ("lcnet_050", "ra2_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("lcnet_075", "ra2_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("lcnet_100", "ra2_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("lcnet_150", "untrained", 1000, 224, 0.875, Bilinear, IMAGENET),
        ("mobilenetv4_conv_small_035", "untrained", 1000, 224, 0.875, Bicubic, INCEPTION),
        ("mobilenetv4_conv_small_050", "e3000_r224_in1k", 1000, 224, 0.875, Bicubic, INCEPTION),
        ("mobilenetv4_conv_small", "e2400_r224_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv4_conv_small", "e1200_r224_in1k", 1000, 224, 0.875, Bicubic, IMAGENET),
        ("mobilenetv4_conv_small", "e3600_r256_in1k", 1000, 256, 0.95, Bicubic, INCEPTION),
        ("mobilenetv4_conv_medium", "e500_r256_in1k", 1000, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_medium", "e500_r224_in1k", 1000, 224, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_medium", "e250_r384_in12k_ft_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_medium", "e180_r384_in12k", 11821, 384, 1.0, Bicubic, IMAGENET),
        ("mobilenetv4_conv_medium", "e180_ad_r384_in12k", 11821, 384, 1.0, Bicubic, IMAGENET),
        ("mobilenetv4_conv_medium", "e250_r384_in12k", 11821, 384, 1.0, Bicubic, IMAGENET),
        ("mobilenetv4_conv_large", "e600_r384_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_large", "e500_r256_in1k", 1000, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_aa_medium", "untrained", 1000, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_blur_medium", "e500_r224_in1k", 1000, 224, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_aa_large", "e230_r448_in12k_ft_in1k", 1000, 448, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_aa_large", "e230_r384_in12k_ft_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_aa_large", "e600_r384_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_conv_aa_large", "e230_r384_in12k", 11821, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium", "e200_r256_in12k_ft_in1k", 1000, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium", "ix_e550_r256_in1k", 1000, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium", "ix_e550_r384_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium", "e500_r224_in1k", 1000, 224, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium", "e200_r256_in12k", 11821, 256, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_large", "ix_e600_r384_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_large", "e600_r384_in1k", 1000, 384, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_medium_075", "untrained", 1000, 224, 0.95, Bicubic, IMAGENET),
        ("mobilenetv4_hybrid_large_075", "untrained", 1000, 256, 0.95, Bicubic, IMAGENET),
    ];
    let row = CFGS
        .iter()
        .find(|c| c.0 == arch && tag.is_none_or(|t| t == c.1))
        .ok_or_else(|| {
            let tags: Vec<&str> = CFGS.iter().filter(|c| c.0 == arch).map(|c| c.1).collect();
            cfg_err(format!("unknown pretrained tag '{}' for {arch} (known: {})", tag.unwrap_or(""), tags.join(", ")))
        })?;
    let &(_, _, classes, input_size, crop_pct, interpolation, (mean, std)) = row;
    Ok((classes, PreprocessConfig { input_size, crop_pct, interpolation, mean, std }))
}

/// Accepted ranges for a config.json (inclusive), chosen so every accepted value gives finite
/// results and bounded work: timm's values are input 224 or 256, crop 0.875 to 1.0, mean in
/// [0, 0.5], std in [0.22, 1].
pub const INPUT_SIZE_RANGE: (usize, usize) = (16, 2048);
pub const CROP_PCT_RANGE: (f64, f64) = (0.1, 4.0);
pub const MEAN_RANGE: (f64, f64) = (-10.0, 10.0);
pub const STD_RANGE: (f64, f64) = (1e-3, 1e3);
pub const MAX_NUM_CLASSES: usize = 100_000;

/// Three numbers, each within `range` (which also keeps them finite as f32).
fn bounded3(v: &Value, field: &str, range: (f64, f64), what: &str) -> Result<[f32; 3]> {
    let a = f64_array::<3>(v, field)?;
    if a.iter().any(|x| !(range.0..=range.1).contains(x)) {
        return Err(cfg_err(format!("'{field}' is {v}; each value must be from {} to {} ({what})", range.0, range.1)));
    }
    Ok(a.map(|x| x as f32))
}

fn cfg_err(m: impl Into<String>) -> Error {
    Error::Config(m.into())
}

fn f64_array<const N: usize>(v: &Value, field: &str) -> Result<[f64; N]> {
    let arr = v.as_array().filter(|a| a.len() == N).ok_or_else(|| cfg_err(format!("'{field}' must be an array of {N} numbers")))?;
    let mut out = [0f64; N];
    for (o, x) in out.iter_mut().zip(arr) {
        *o = x.as_f64().ok_or_else(|| cfg_err(format!("'{field}' must hold numbers")))?;
    }
    Ok(out)
}

impl ModelConfig {
    /// Defaults for an architecture name (optionally `name.tag`), taken from timm's
    /// `default_cfgs` for that tag, or for the architecture's default tag (for use without a
    /// config.json).
    pub fn for_architecture(name: &str) -> Result<ModelConfig> {
        let variant = find_variant(name)?;
        let tag = name.split_once('.').map(|(_, t)| t.trim());
        let (num_classes, preprocess) = timm_default_cfg(variant.name, tag)?;
        let labels = labels::resolve(None, None, num_classes)?;
        Ok(ModelConfig { architecture: name.to_string(), variant, num_classes, preprocess, labels })
    }

    /// Parse timm's config.json text.
    pub fn from_json(text: &str) -> Result<ModelConfig> {
        let v: Value = serde_json::from_str(text).map_err(|e| cfg_err(format!("config.json is not valid JSON: {e}")))?;
        Self::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<ModelConfig> {
        let obj = v.as_object().ok_or_else(|| cfg_err("config.json must be a JSON object"))?;
        let arch = obj
            .get("architecture")
            .or_else(|| obj.get("arch"))
            .and_then(Value::as_str)
            .ok_or_else(|| cfg_err("config.json has no 'architecture' field"))?;
        // The file's pretrained_cfg overrides these defaults; an unknown tag is no error here.
        let base = arch.split('.').next().unwrap_or(arch);
        let mut cfg = ModelConfig::for_architecture(arch).or_else(|_| ModelConfig::for_architecture(base))?;
        cfg.architecture = arch.to_string();
        let pc = obj.get("pretrained_cfg").and_then(Value::as_object);
        let model_args = obj.get("model_args").and_then(Value::as_object);

        if let Some(gp) = obj.get("global_pool").or_else(|| model_args.and_then(|m| m.get("global_pool"))) {
            if gp.as_str() != Some("avg") {
                return Err(Error::UnsupportedArch(format!("global_pool {gp} (only 'avg' is supported)")));
            }
        }
        if let Some(ic) = model_args.and_then(|m| m.get("in_chans")) {
            if ic.as_u64() != Some(3) {
                return Err(Error::UnsupportedArch(format!("in_chans {ic} (only 3 is supported)")));
            }
        }
        let nc = obj
            .get("num_classes")
            .or_else(|| model_args.and_then(|m| m.get("num_classes")))
            .or_else(|| pc.and_then(|p| p.get("num_classes")));
        if let Some(nc) = nc {
            let n = nc.as_u64().filter(|n| (1..=MAX_NUM_CLASSES as u64).contains(n)).ok_or_else(|| {
                cfg_err(format!("'num_classes' is {nc}; it must be an integer from 1 to {MAX_NUM_CLASSES} (the classifier's output count)"))
            })?;
            cfg.num_classes = n as usize;
        }

        if let Some(pc) = pc {
            let p = &mut cfg.preprocess;
            if let Some(mean) = pc.get("mean") {
                p.mean = bounded3(mean, "mean", MEAN_RANGE, "per-channel means of pixels scaled to [0, 1], e.g. [0.485, 0.456, 0.406]")?;
            }
            if let Some(std) = pc.get("std") {
                p.std = bounded3(std, "std", STD_RANGE, "per-channel standard deviations of pixels scaled to [0, 1], e.g. [0.229, 0.224, 0.225]")?;
            }
            if let Some(size) = pc.get("input_size") {
                let [c, h, w] = f64_array::<3>(size, "input_size")?;
                if c != 3.0 || h != w || !(INPUT_SIZE_RANGE.0 as f64..=INPUT_SIZE_RANGE.1 as f64).contains(&h) || h.fract() != 0.0 {
                    return Err(cfg_err(format!(
                        "'input_size' {size} is not supported: it must be [3, N, N] with N an integer from {} to {}",
                        INPUT_SIZE_RANGE.0, INPUT_SIZE_RANGE.1
                    )));
                }
                p.input_size = h as usize;
            }
            if let Some(cp) = pc.get("crop_pct") {
                p.crop_pct = cp.as_f64().filter(|c| (CROP_PCT_RANGE.0..=CROP_PCT_RANGE.1).contains(c)).ok_or_else(|| {
                    cfg_err(format!(
                        "'crop_pct' is {cp}; it must be a number from {} to {} (timm's MobileNetV3 configs use 0.875 to 1.0)",
                        CROP_PCT_RANGE.0, CROP_PCT_RANGE.1
                    ))
                })?;
            }
            if let Some(mode) = pc.get("crop_mode").and_then(Value::as_str) {
                if mode != "center" {
                    return Err(cfg_err(format!("crop_mode '{mode}' is not supported (only 'center')")));
                }
            }
            if let Some(interp) = pc.get("interpolation").and_then(Value::as_str) {
                p.interpolation = match interp {
                    "bilinear" => Interpolation::Bilinear,
                    "bicubic" => Interpolation::Bicubic,
                    other => return Err(cfg_err(format!("interpolation '{other}' is not supported (bilinear, bicubic)"))),
                };
            }
        }

        cfg.labels = labels::resolve(obj.get("label_names"), obj.get("label_descriptions"), cfg.num_classes)?;
        Ok(cfg)
    }

    pub fn net_spec(&self) -> Result<NetSpec> {
        NetSpec::build(self.variant, self.num_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timm_config() {
        let c = ModelConfig::from_json(
            r#"{"architecture": "mobilenetv3_large_100", "num_classes": 1000,
                "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.875,
                "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}"#,
        )
        .unwrap();
        assert_eq!(c.variant.name, "mobilenetv3_large_100");
        assert_eq!(c.preprocess.interpolation, Interpolation::Bicubic);
        assert_eq!(c.preprocess.scale_size(), 256);
        assert_eq!(c.labels.len(), 1000);
        assert!(c.labels[207].contains("golden retriever"));
    }

    /// Without a config.json, a name gets timm's default pretrained_cfg for its tag.
    #[test]
    fn defaults_follow_timm_tags() {
        let c = ModelConfig::for_architecture("mobilenetv3_large_100").unwrap();
        assert_eq!((c.preprocess.interpolation, c.preprocess.mean), (Interpolation::Bicubic, [0.485, 0.456, 0.406]));
        let c = ModelConfig::for_architecture("mobilenetv3_large_100.miil_in21k_ft_in1k").unwrap();
        assert_eq!((c.preprocess.interpolation, c.preprocess.std), (Interpolation::Bilinear, [1.0; 3]));
        assert_eq!(ModelConfig::for_architecture("mobilenetv3_large_100.miil_in21k").unwrap().num_classes, 11221);
        let c = ModelConfig::for_architecture("mobilenetv3_large_150d").unwrap();
        assert_eq!((c.preprocess.input_size, c.preprocess.crop_pct), (256, 0.95));
        let c = ModelConfig::for_architecture("tf_mobilenetv3_small_100").unwrap();
        assert_eq!((c.preprocess.interpolation, c.preprocess.mean), (Interpolation::Bilinear, [0.5; 3]));
        assert!(matches!(ModelConfig::for_architecture("mobilenetv3_small_100.nope"), Err(Error::Config(_))));
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(matches!(ModelConfig::from_json("{"), Err(Error::Config(_))));
        assert!(matches!(ModelConfig::from_json(r#"{"architecture": "vit_base"}"#), Err(Error::UnsupportedArch(_))));
        assert!(matches!(ModelConfig::from_json(r#"{}"#), Err(Error::Config(_))));
        let bad_interp = r#"{"architecture": "mobilenetv3_small_100", "pretrained_cfg": {"interpolation": "lanczos"}}"#;
        assert!(matches!(ModelConfig::from_json(bad_interp), Err(Error::Config(_))));
        let bad_size = r#"{"architecture": "mobilenetv3_small_100", "pretrained_cfg": {"input_size": [3, 224, 200]}}"#;
        assert!(matches!(ModelConfig::from_json(bad_size), Err(Error::Config(_))));
    }

    /// Values that used to load and give NaN or saturated probabilities; each error names its field.
    #[test]
    fn rejects_out_of_range_numbers() {
        let with = |pc: &str| format!(r#"{{"architecture": "mobilenetv3_small_100", "pretrained_cfg": {{{pc}}}}}"#);
        for (pc, field) in [
            (r#""std": [1e-40, 0.2, 0.2]"#, "'std'"),
            (r#""std": [0.2, 0, 0.2]"#, "'std'"),
            (r#""std": [0.2, -1, 0.2]"#, "'std'"),
            (r#""std": [1e39, 0.2, 0.2]"#, "'std'"),
            (r#""mean": [1e39, 0.2, 0.2]"#, "'mean'"),
            (r#""mean": [0.4, 0.4]"#, "'mean'"),
            (r#""crop_pct": 0"#, "'crop_pct'"),
            (r#""crop_pct": 1e-300"#, "'crop_pct'"),
            (r#""crop_pct": -0.5"#, "'crop_pct'"),
            (r#""input_size": [3, 100000, 100000]"#, "'input_size'"),
            (r#""input_size": [3, 8, 8]"#, "'input_size'"),
            (r#""num_classes": 0"#, "'num_classes'"),
            (r#""num_classes": 1e12"#, "'num_classes'"),
        ] {
            match ModelConfig::from_json(&with(pc)) {
                Err(e @ Error::Config(_)) => assert!(e.to_string().contains(field), "{pc}: {e}"),
                other => panic!("{pc}: accepted or wrong error: {:?}", other.err()),
            }
        }
        assert!(ModelConfig::from_json(&with(r#""std": [1, 1, 1], "mean": [0, 0, 0], "crop_pct": 1.0"#)).is_ok());
        let labels = r#"{"architecture": "mobilenetv3_small_100", "num_classes": 2, "label_names": ["a", "b", "c"]}"#;
        assert!(ModelConfig::from_json(labels).unwrap_err().to_string().contains("label_names"));
    }
}
