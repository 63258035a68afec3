//! Output size and padding of a 2-D convolution, for PyTorch's symmetric padding and for
//! TensorFlow's "same" padding (timm's `tf_*` models use `Conv2dSame`: the extra pixel, when the
//! total padding is odd, goes at the bottom/right).

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// PyTorch `padding = k // 2` on every side (timm's default `pad_type=''`).
    Symmetric,
    /// TensorFlow "SAME": output = ceil(in / stride), padding split with the odd pixel after.
    TfSame,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub in_h: usize,
    pub in_w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

fn axis(input: usize, k: usize, stride: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Padding::Symmetric => {
            let pad = k / 2;
            let out = (input + 2 * pad).saturating_sub(k) / stride + 1;
            (pad, out)
        }
        Padding::TfSame => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + k).saturating_sub(input);
            (total / 2, out)
        }
    }
}

impl ConvGeometry {
    pub fn new(in_h: usize, in_w: usize, k: usize, stride: usize, padding: Padding) -> Self {
        assert!(in_h > 0 && in_w > 0 && k > 0 && stride > 0, "empty convolution");
        let (pad_top, out_h) = axis(in_h, k, stride, padding);
        let (pad_left, out_w) = axis(in_w, k, stride, padding);
        ConvGeometry { in_h, in_w, k, stride, pad_top, pad_left, out_h, out_w }
    }

    /// Input row (or column) of tap `t` for output position `o`, or None in the padding.
    #[inline(always)]
    pub fn in_y(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride + ky).checked_sub(self.pad_top).filter(|&y| y < self.in_h)
    }
    #[inline(always)]
    pub fn in_x(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.stride + kx).checked_sub(self.pad_left).filter(|&x| x < self.in_w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_matches_pytorch() {
        let g = ConvGeometry::new(224, 224, 3, 2, Padding::Symmetric);
        assert_eq!((g.pad_top, g.out_h), (1, 112));
        let g = ConvGeometry::new(7, 9, 5, 2, Padding::Symmetric);
        assert_eq!((g.pad_top, g.out_h, g.pad_left, g.out_w), (2, 4, 2, 5));
        let g = ConvGeometry::new(14, 14, 5, 1, Padding::Symmetric);
        assert_eq!((g.pad_top, g.out_h), (2, 14));
    }

    #[test]
    fn tf_same_matches_tensorflow() {
        // 224, k3, s2: total pad 1 -> 0 before, 1 after.
        let g = ConvGeometry::new(224, 224, 3, 2, Padding::TfSame);
        assert_eq!((g.pad_top, g.out_h), (0, 112));
        // 28, k5, s2: out 14, total = 13*2+5-28 = 3 -> 1 before.
        let g = ConvGeometry::new(28, 28, 5, 2, Padding::TfSame);
        assert_eq!((g.pad_top, g.out_h), (1, 14));
        // odd input 15, k3, s2: out 8, total = 7*2+3-15 = 2 -> 1 before.
        let g = ConvGeometry::new(15, 15, 3, 2, Padding::TfSame);
        assert_eq!((g.pad_top, g.out_h), (1, 8));
        // stride 1 is symmetric.
        let g = ConvGeometry::new(14, 14, 5, 1, Padding::TfSame);
        assert_eq!((g.pad_top, g.out_h), (2, 14));
        assert_eq!(g.in_y(0, 0), None);
        assert_eq!(g.in_y(0, 2), Some(0));
        assert_eq!(g.in_y(13, 4), None);
    }
}
