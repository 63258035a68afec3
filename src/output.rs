//! Turning logits into answers: softmax probabilities and the top-k classes with labels.

use serde::Serialize;

/// Softmax in f32 with the max subtracted first (as PyTorch does); the sum is kept in f64.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let mut out = Vec::new();
    softmax_into(logits, &mut out);
    out
}

/// `softmax` into a reused vector.
pub fn softmax_into(logits: &[f32], out: &mut Vec<f32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    out.clear();
    out.extend(logits.iter().map(|&x| (x - max).exp()));
    let sum: f64 = out.iter().map(|&e| e as f64).sum();
    for e in out.iter_mut() {
        *e = (*e as f64 / sum) as f32;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopClass {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// The `k` most probable classes, most probable first (ties keep the lower index first).
pub fn top_k(probabilities: &[f32], labels: &[String], k: usize) -> Vec<TopClass> {
    let mut idx = Vec::new();
    top_indices(probabilities, k, &mut idx);
    idx.into_iter()
        .map(|i| TopClass { index: i, label: labels.get(i).cloned().unwrap_or_else(|| format!("class {i}")), probability: probabilities[i] })
        .collect()
}

/// Indices of the `k` largest values, largest first (ties: lower index first), into `idx`
/// (reused): a partial selection, then a sort of the `k` chosen.
pub fn top_indices(values: &[f32], k: usize, idx: &mut Vec<usize>) {
    let order = |&a: &usize, &b: &usize| values[b].total_cmp(&values[a]).then(a.cmp(&b));
    idx.clear();
    idx.extend(0..values.len());
    let k = k.min(values.len());
    if k == 0 {
        idx.clear();
        return;
    }
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, order);
        idx.truncate(k);
    }
    idx.sort_unstable_by(order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_top_k() {
        let p = softmax(&[1.0, 3.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let labels: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let t = top_k(&p, &labels, 3);
        assert_eq!(t.iter().map(|c| c.index).collect::<Vec<_>>(), vec![1, 3, 2]);
        assert_eq!(t[0].label, "b");
        assert!((t[0].probability - 0.3994863).abs() < 1e-6);
        // The partial selection gives the full sort's first k, ties by index.
        let v: Vec<f32> = (0..500).map(|i| ((i * 37) % 11) as f32).collect();
        let mut full: Vec<usize> = (0..v.len()).collect();
        full.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        let mut idx = Vec::new();
        for k in [0, 1, 5, 60, 499, 500, 600] {
            top_indices(&v, k, &mut idx);
            assert_eq!(idx, full[..k.min(500)], "k = {k}");
        }
        // Large logits do not overflow.
        let p = softmax(&[1000.0, 0.0]);
        assert_eq!(p[0], 1.0);
    }
}
