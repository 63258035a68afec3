//! Turning logits into answers: softmax probabilities and the top-k classes with labels.

use serde::Serialize;

/// Softmax in f32 with the max subtracted first (as PyTorch does); the sum is kept in f64.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f64 = exps.iter().map(|&e| e as f64).sum();
    exps.iter().map(|&e| (e as f64 / sum) as f32).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopClass {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// The `k` most probable classes, most probable first (ties keep the lower index first).
pub fn top_k(probabilities: &[f32], labels: &[String], k: usize) -> Vec<TopClass> {
    let mut idx: Vec<usize> = (0..probabilities.len()).collect();
    idx.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]).then(a.cmp(&b)));
    idx.into_iter()
        .take(k)
        .map(|i| TopClass { index: i, label: labels.get(i).cloned().unwrap_or_else(|| format!("class {i}")), probability: probabilities[i] })
        .collect()
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
        // Large logits do not overflow.
        let p = softmax(&[1000.0, 0.0]);
        assert_eq!(p[0], 1.0);
    }
}
