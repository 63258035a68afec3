//! A validating reader for the safetensors format (8-byte little-endian header length, a JSON
//! header `{name: {dtype, shape, data_offsets}}`, then the raw data). Every offset and size is
//! checked against the buffer before any tensor is read, so a truncated or hostile file gives an
//! error, never a panic or an out-of-bounds read.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

/// Header size cap: timm's MobileNetV3 headers are ~30 KB; parsed JSON takes up to ~16x its
/// text, so this also bounds the memory a hostile header can cost.
const MAX_HEADER: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
    /// Integer or other tensors (e.g. `num_batches_tracked`): sized and skipped, never read.
    Other(usize),
}

impl Dtype {
    fn parse(s: &str) -> Option<Dtype> {
        Some(match s {
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "F64" | "I64" | "U64" => Dtype::Other(8),
            "I32" | "U32" => Dtype::Other(4),
            "I16" | "U16" => Dtype::Other(2),
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => Dtype::Other(1),
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::Other(n) => n,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    begin: usize,
    end: usize,
}

pub struct SafeTensors<'a> {
    data: &'a [u8],
    tensors: HashMap<String, TensorInfo>,
    metadata: HashMap<String, String>,
}

fn fmt_err(m: impl Into<String>) -> Error {
    Error::WeightsFormat(m.into())
}

/// The header's top-level entries in file order, duplicates kept (serde_json's map would
/// silently keep only the last of two equal keys).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> std::result::Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// A header number as usize: a u64 that does not fit (e.g. on wasm32) is an error, never truncated.
fn to_usize(v: &Value) -> Option<usize> {
    usize::try_from(v.as_u64()?).ok()
}

impl<'a> SafeTensors<'a> {
    /// Parse and validate: a sane header length, well-formed entries, unique names, and data
    /// offsets that tile the data section exactly (no overlap, gap or trailing byte).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 8 {
            return Err(fmt_err(format!("file is {} bytes, too short for a safetensors header", bytes.len())));
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        if n > MAX_HEADER as u64 || n < 2 {
            return Err(fmt_err(format!(
                "header length {n} is not plausible (2 to {MAX_HEADER} bytes; not a safetensors file?)"
            )));
        }
        let n = n as usize;
        if n > bytes.len() - 8 {
            return Err(fmt_err(format!("header of {n} bytes runs past the end of the {}-byte file (truncated?)", bytes.len())));
        }
        let header = &bytes[8..8 + n];
        if header[0] != b'{' {
            return Err(fmt_err("header does not start with '{' (not a safetensors file?)"));
        }
        let Entries(entries) = serde_json::from_slice(header).map_err(|e| fmt_err(format!("header is not a valid JSON object: {e}")))?;
        let data = &bytes[8 + n..];
        let mut tensors: HashMap<String, TensorInfo> = HashMap::with_capacity(entries.len());
        let mut metadata = HashMap::new();
        let mut seen_metadata = false;
        for (name, t) in &entries {
            if name == "__metadata__" {
                if std::mem::replace(&mut seen_metadata, true) {
                    return Err(fmt_err("'__metadata__' appears twice in the header"));
                }
                if let Some(m) = t.as_object() {
                    metadata = m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
                }
                continue;
            }
            let dtype_s = t.get("dtype").and_then(Value::as_str).ok_or_else(|| fmt_err(format!("tensor '{name}' has no dtype")))?;
            let dtype = Dtype::parse(dtype_s).ok_or_else(|| fmt_err(format!("tensor '{name}' has unknown dtype {dtype_s}")))?;
            let shape: Vec<usize> = t
                .get("shape")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(to_usize).collect::<Option<Vec<_>>>())
                .ok_or_else(|| fmt_err(format!("tensor '{name}' has an invalid shape (dimensions must be integers that fit in memory)")))?;
            let (begin, end) = t
                .get("data_offsets")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 2)
                .and_then(|a| Some((to_usize(&a[0])?, to_usize(&a[1])?)))
                .ok_or_else(|| fmt_err(format!("tensor '{name}' has invalid data_offsets (two integers that fit in memory)")))?;
            let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            let nbytes = count.and_then(|c| c.checked_mul(dtype.size())).ok_or_else(|| fmt_err(format!("tensor '{name}' is too large")))?;
            if begin > end || end > data.len() {
                return Err(fmt_err(format!(
                    "tensor '{name}' data [{begin}, {end}) lies outside the {}-byte data section (truncated file?)",
                    data.len()
                )));
            }
            if end - begin != nbytes {
                return Err(fmt_err(format!("tensor '{name}' has {} data bytes for shape {shape:?} {dtype_s} ({nbytes} expected)", end - begin)));
            }
            if tensors.insert(name.clone(), TensorInfo { dtype, shape, begin, end }).is_some() {
                return Err(fmt_err(format!("tensor '{name}' appears twice in the header")));
            }
        }
        // The tensors must tile the data section: sorted by offset, each starts where the last ended.
        let mut spans: Vec<(usize, usize, &str)> = tensors.iter().map(|(n, t)| (t.begin, t.end, n.as_str())).collect();
        spans.sort_unstable();
        let mut at = 0;
        for (begin, end, name) in spans {
            if begin != at {
                let what = if begin < at { "overlaps the tensor before it" } else { "leaves a gap of unused bytes before it" };
                return Err(fmt_err(format!("tensor '{name}' data [{begin}, {end}) {what} (ends at {at}); the file is corrupt")));
            }
            at = end;
        }
        if at != data.len() {
            return Err(fmt_err(format!("{} bytes after the last tensor's data belong to no tensor; the file is corrupt", data.len() - at)));
        }
        Ok(SafeTensors { data, tensors, metadata })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    /// The `__metadata__` string map.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Raw bytes of a U8 tensor (shape not checked).
    pub fn u8(&self, name: &str) -> Result<&'a [u8]> {
        let t = self.tensors.get(name).ok_or_else(|| Error::MissingTensor { name: name.to_string(), expected: vec![] })?;
        if t.dtype != Dtype::Other(1) {
            return Err(fmt_err(format!("tensor '{name}' is not a byte tensor")));
        }
        Ok(&self.data[t.begin..t.end])
    }

    /// Read a float tensor as f32, checking it exists with exactly `expected` shape.
    pub fn f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let t = self.tensors.get(name).ok_or_else(|| Error::MissingTensor { name: name.to_string(), expected: expected.to_vec() })?;
        if t.shape != expected {
            return Err(Error::ShapeMismatch { name: name.to_string(), expected: expected.to_vec(), found: t.shape.clone() });
        }
        let raw = &self.data[t.begin..t.end];
        let v: Vec<f32> = match t.dtype {
            Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect(),
            Dtype::Other(_) => return Err(fmt_err(format!("tensor '{name}' is not a float tensor (F32, F16 or BF16)"))),
        };
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(fmt_err(format!(
                "tensor '{name}' holds {} at index {i}; weights must be finite (a diverged or corrupted checkpoint?)",
                v[i]
            )));
        }
        Ok(v)
    }
}

/// IEEE half -> single, exact for every value including subnormals, infinities and NaN.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            return if sign != 0 { -(m as f32) * 2f32.powi(-24) } else { m as f32 * 2f32.powi(-24) };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Serialize raw tensors (name, dtype string, shape, little-endian bytes) as a safetensors file.
pub fn serialize(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let b = data.len();
        data.extend_from_slice(bytes);
        header.insert(name.to_string(), serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [b, data.len()]}));
    }
    let h = serde_json::to_vec(&Value::Object(header)).expect("a JSON map always serializes");
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::serialize as build;

    #[test]
    fn reads_f32_f16_bf16() {
        let f32b: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let f16b: Vec<u8> = [0x3e00u16, 0xc000, 0x0001, 0x7bff].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bf16b: Vec<u8> = [0x3fc0u16].iter().flat_map(|x| x.to_le_bytes()).collect();
        let file = build(&[("a", "F32", vec![2], f32b), ("h", "F16", vec![2, 2], f16b), ("b", "BF16", vec![1], bf16b), ("n", "I64", vec![], vec![0; 8])]);
        let st = SafeTensors::parse(&file).unwrap();
        assert_eq!(st.f32("a", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(st.f32("h", &[2, 2]).unwrap(), vec![1.5, -2.0, 2f32.powi(-24), 65504.0]);
        assert_eq!(st.f32("b", &[1]).unwrap(), vec![1.5]);
        assert!(matches!(st.f32("a", &[3]), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(st.f32("zz", &[3]), Err(Error::MissingTensor { .. })));
        assert!(matches!(st.f32("n", &[]), Err(Error::WeightsFormat(_))));
    }

    #[test]
    fn rejects_malformed_files() {
        let good = build(&[("a", "F32", vec![4], vec![0; 16])]);
        // Every truncation fails cleanly.
        for cut in 0..good.len() {
            assert!(SafeTensors::parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Offsets past the end, wrong byte counts, garbage.
        let past = build(&[("a", "F32", vec![8], vec![0; 16])]);
        assert!(SafeTensors::parse(&past).is_err());
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(SafeTensors::parse(&huge).is_err());
        assert!(SafeTensors::parse(b"GIF89a.....not weights at all").is_err());
        let lying = {
            let h = br#"{"a":{"dtype":"F32","shape":[1000000000000,1000000000000],"data_offsets":[0,4]}}"#;
            let mut f = (h.len() as u64).to_le_bytes().to_vec();
            f.extend_from_slice(h);
            f.extend_from_slice(&[0; 4]);
            f
        };
        assert!(SafeTensors::parse(&lying).is_err());
    }

    /// A header written by hand: `entries` is the JSON object's inside, `data` the data section.
    fn raw(entries: &str, data: &[u8]) -> Vec<u8> {
        let h = format!("{{{entries}}}");
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h.as_bytes());
        f.extend_from_slice(data);
        f
    }

    fn err(file: &[u8]) -> String {
        match SafeTensors::parse(file) {
            Err(Error::WeightsFormat(m)) => m,
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn tensors_must_tile_the_data_exactly() {
        let t = |n: &str, a: usize, b: usize| format!(r#""{n}":{{"dtype":"F32","shape":[{}],"data_offsets":[{a},{b}]}}"#, (b - a) / 4);
        assert!(SafeTensors::parse(&raw(&format!("{},{}", t("a", 0, 8), t("b", 8, 16)), &[0; 16])).is_ok());
        let overlap = err(&raw(&format!("{},{}", t("a", 0, 8), t("b", 4, 12)), &[0; 12]));
        assert!(overlap.contains("overlaps") && overlap.contains("'b'"), "{overlap}");
        let gap = err(&raw(&format!("{},{}", t("a", 0, 4), t("b", 8, 12)), &[0; 12]));
        assert!(gap.contains("gap"), "{gap}");
        let trailing = err(&raw(&t("a", 0, 8), &[0; 9]));
        assert!(trailing.contains("1 bytes after"), "{trailing}");
        let dup = err(&raw(&format!("{},{}", t("a", 0, 8), t("a", 8, 16)), &[0; 16]));
        assert!(dup.contains("twice") && dup.contains("'a'"), "{dup}");
        let aliased = err(&raw(&format!("{},{}", t("a", 0, 8), t("b", 0, 8)), &[0; 8]));
        assert!(aliased.contains("overlaps"), "{aliased}");
        // Offsets beyond u64 / usize are refused, not truncated.
        let big = err(&raw(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551616,4]}"#, &[0; 4]));
        assert!(big.contains("data_offsets"), "{big}");
        #[cfg(target_pointer_width = "32")]
        {
            let wraps = err(&raw(r#""a":{"dtype":"F32","shape":[4294967297],"data_offsets":[0,4]}"#, &[0; 4]));
            assert!(wraps.contains("shape"), "{wraps}");
        }
        let not_object = err(b"\x02\0\0\0\0\0\0\0[]");
        assert!(not_object.contains("'{'"), "{not_object}");
    }

    #[test]
    fn non_finite_values_are_named() {
        for (dtype, bytes) in [("F32", f32::NAN.to_le_bytes().to_vec()), ("F32", f32::INFINITY.to_le_bytes().to_vec()), ("F16", 0x7c00u16.to_le_bytes().to_vec()), ("BF16", 0xff80u16.to_le_bytes().to_vec())] {
            let file = build(&[("bn.running_var", dtype, vec![1], bytes)]);
            let st = SafeTensors::parse(&file).unwrap();
            match st.f32("bn.running_var", &[1]) {
                Err(Error::WeightsFormat(m)) => assert!(m.contains("bn.running_var") && m.contains("finite"), "{m}"),
                other => panic!("{dtype}: non-finite value accepted: {other:?}"),
            }
        }
    }
}
