//! A validating reader for the safetensors format (8-byte little-endian header length, a JSON
//! header `{name: {dtype, shape, data_offsets}}`, then the raw data). Every offset and size is
//! checked against the buffer before any tensor is read, so a truncated or hostile file gives an
//! error, never a panic or an out-of-bounds read.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

const MAX_HEADER: usize = 100 << 20;

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

impl<'a> SafeTensors<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 8 {
            return Err(fmt_err(format!("file is {} bytes, too short for a safetensors header", bytes.len())));
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        if n > MAX_HEADER as u64 || n < 2 {
            return Err(fmt_err(format!("header length {n} is not plausible (not a safetensors file?)")));
        }
        let n = n as usize;
        if 8 + n > bytes.len() {
            return Err(fmt_err(format!("header of {n} bytes runs past the end of the {}-byte file (truncated?)", bytes.len())));
        }
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| fmt_err(format!("header is not valid JSON: {e}")))?;
        let obj = header.as_object().ok_or_else(|| fmt_err("header is not a JSON object"))?;
        let data = &bytes[8 + n..];
        let mut tensors = HashMap::with_capacity(obj.len());
        let mut metadata = HashMap::new();
        for (name, t) in obj {
            if name == "__metadata__" {
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
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| fmt_err(format!("tensor '{name}' has an invalid shape")))?;
            let offs = t
                .get("data_offsets")
                .and_then(Value::as_array)
                .filter(|a| a.len() == 2)
                .and_then(|a| Some((a[0].as_u64()? as usize, a[1].as_u64()? as usize)))
                .ok_or_else(|| fmt_err(format!("tensor '{name}' has invalid data_offsets")))?;
            let (begin, end) = offs;
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
            tensors.insert(name.clone(), TensorInfo { dtype, shape, begin, end });
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
        Ok(match t.dtype {
            Dtype::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            Dtype::BF16 => raw.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect(),
            Dtype::Other(_) => return Err(fmt_err(format!("tensor '{name}' is not a float tensor (F32, F16 or BF16)"))),
        })
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
        let f16b: Vec<u8> = [0x3e00u16, 0xc000, 0x0001, 0x7c00].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bf16b: Vec<u8> = [0x3fc0u16].iter().flat_map(|x| x.to_le_bytes()).collect();
        let file = build(&[("a", "F32", vec![2], f32b), ("h", "F16", vec![2, 2], f16b), ("b", "BF16", vec![1], bf16b), ("n", "I64", vec![], vec![0; 8])]);
        let st = SafeTensors::parse(&file).unwrap();
        assert_eq!(st.f32("a", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(st.f32("h", &[2, 2]).unwrap(), vec![1.5, -2.0, 2f32.powi(-24), f32::INFINITY]);
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
}
