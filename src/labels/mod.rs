//! Class labels: ImageNet-1k names shipped in the crate (see LICENSE.md), or the `label_names`
//! (+ `label_descriptions`) of a timm config.json.

use crate::error::{Error, Result};
use serde_json::Value;

const IMAGENET1K: &str = include_str!("imagenet1k.tsv");

fn table() -> impl Iterator<Item = (&'static str, &'static str)> {
    IMAGENET1K.lines().filter_map(|l| l.split_once('\t'))
}

/// The 1000 ImageNet-1k descriptions in class-index order.
pub fn imagenet1k() -> Vec<String> {
    table().map(|(_, d)| d.to_string()).collect()
}

/// Labels from a config's `label_names` / `label_descriptions`, falling back to ImageNet-1k for
/// 1000 classes and to "class N" otherwise. Synset ids without a description are looked up in
/// the built-in table.
pub fn resolve(names: Option<&Value>, descriptions: Option<&Value>, num_classes: usize) -> Result<Vec<String>> {
    let Some(names) = names.filter(|v| !v.is_null()) else {
        return Ok(if num_classes == 1000 { imagenet1k() } else { (0..num_classes).map(|i| format!("class {i}")).collect() });
    };
    let names = names.as_array().ok_or_else(|| Error::Config("'label_names' must be an array of strings".into()))?;
    if names.len() != num_classes {
        return Err(Error::Config(format!(
            "'label_names' has {} entries for {num_classes} classes; give exactly one name per class (or leave it out)",
            names.len()
        )));
    }
    let desc = descriptions.and_then(Value::as_object);
    // Indexed once: a linear scan per name made 100000 names take 15 s.
    let builtin: std::collections::HashMap<&str, &str> = table().collect();
    names
        .iter()
        .map(|n| {
            let n = n.as_str().ok_or_else(|| Error::Config("'label_names' must hold strings".into()))?;
            let d = desc.and_then(|d| d.get(n)).and_then(Value::as_str);
            Ok(d.or_else(|| builtin.get(n).copied()).unwrap_or(n).to_string())
        })
        .collect()
}

/// The short display name: the first lemma ("tench" of "tench, Tinca tinca").
pub fn short(label: &str) -> &str {
    label.split(',').next().unwrap_or(label).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_has_1000_classes() {
        let l = imagenet1k();
        assert_eq!(l.len(), 1000);
        assert_eq!(l[0], "tench, Tinca tinca");
        assert_eq!(short(&l[999]), "toilet tissue");
    }

    #[test]
    fn config_labels_override() {
        let l = resolve(Some(&json!(["a", "n01440764"])), Some(&json!({"a": "Alpha"})), 2).unwrap();
        assert_eq!(l, vec!["Alpha".to_string(), "tench, Tinca tinca".to_string()]);
        assert!(resolve(Some(&json!(["a"])), None, 2).is_err());
        assert_eq!(resolve(None, None, 3).unwrap()[2], "class 2");
    }
}
