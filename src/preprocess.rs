//! timm's eval transform, bit-exact: torchvision `Resize(floor(size / crop_pct))` of the shorter
//! side on a PIL image (PIL's two-pass antialiased resampling in 8-bit fixed point), `CenterCrop`,
//! `ToTensor`, `Normalize`. Output is NHWC f32 (H = W = input_size).
//!
//! Only the output pixels inside the crop are computed (each resampled pixel depends only on
//! its own filter window, so this equals resizing everything and then cropping), and source
//! rows can be fed in strips, so a 50-megapixel photo never needs to sit in memory twice.

use crate::error::{Error, Result};
use crate::model::config::{Interpolation, PreprocessConfig};

/// PIL's fixed-point precision for 8-bit resampling.
const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point filter taps for a set of output positions along one axis (PIL `precompute_coeffs`
/// followed by `normalize_coeffs_8bpc`).
#[derive(Debug, Clone)]
struct Taps {
    /// Per output position: first source index and tap count.
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    coeffs: Vec<i32>,
}

impl Taps {
    /// Taps for output positions `outputs` of a resize from `in_size` to `out_size`.
    fn new(in_size: usize, out_size: usize, outputs: std::ops::Range<usize>, interp: Interpolation) -> Taps {
        let (filter, support): (fn(f64) -> f64, f64) = match interp {
            Interpolation::Bilinear => (bilinear, 1.0),
            Interpolation::Bicubic => (bicubic, 2.0),
        };
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = support * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(outputs.len());
        let mut coeffs = vec![0i32; outputs.len() * ksize];
        let mut k = vec![0f64; ksize];
        for (i, xx) in outputs.enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C casts truncate toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(xmax) {
                let w = filter((x as f64 + xmin as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            for x in 0..xmax {
                let w = if ww != 0.0 { k[x] / ww } else { k[x] };
                let scaled = w * (1u32 << PRECISION_BITS) as f64;
                coeffs[i * ksize + x] = if w < 0.0 { (scaled - 0.5) as i32 } else { (scaled + 0.5) as i32 };
            }
            bounds.push((xmin, xmax));
        }
        Taps { bounds, ksize, coeffs }
    }

    #[inline]
    fn get(&self, i: usize) -> (usize, &[i32]) {
        let (start, n) = self.bounds[i];
        (start, &self.coeffs[i * self.ksize..i * self.ksize + n])
    }
}

#[inline]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Where the crop window lies in the resized image along one axis: resized index of crop
/// position 0 (negative when torchvision pads a too-small image with zeros).
fn crop_offset(resized: usize, crop: usize) -> isize {
    if crop > resized {
        -(((crop - resized) / 2) as isize)
    } else {
        // torchvision: int(round((resized - crop) / 2.0)), Python rounds half to even.
        ((resized - crop) as f64 / 2.0).round_ties_even() as isize
    }
}

/// torchvision's shorter-side resize: (new_w, new_h).
pub fn resized_size(w: usize, h: usize, short_side: usize) -> (usize, usize) {
    if w <= h {
        (short_side, (short_side as f64 * h as f64 / w as f64) as usize)
    } else {
        ((short_side as f64 * w as f64 / h as f64) as usize, short_side)
    }
}

/// Resampling plan for one source size, fed with source rows in any number of strips.
pub struct Preprocessor {
    cfg: PreprocessConfig,
    src_w: usize,
    src_h: usize,
    /// Output crop columns/rows that fall inside the resized image, and their crop positions.
    cols: std::ops::Range<usize>,
    rows: std::ops::Range<usize>,
    col_at: usize,
    row_at: usize,
    horiz: Option<Taps>,
    vert: Option<Taps>,
    /// Source rows needed: [first_row, first_row + tmp_rows).
    first_row: usize,
    tmp_rows: usize,
    /// Horizontally resampled rows, RGB, `cols.len()` wide.
    tmp: Vec<u8>,
    rows_seen: usize,
}

impl Preprocessor {
    pub fn new(cfg: &PreprocessConfig, src_w: usize, src_h: usize) -> Result<Preprocessor> {
        if src_w == 0 || src_h == 0 {
            return Err(Error::InvalidInput(format!("image is {src_w}x{src_h} pixels; it needs at least one pixel")));
        }
        crate::image_header::check_dimensions(src_w as u64, src_h as u64)?;
        let size = cfg.input_size;
        let (rw, rh) = resized_size(src_w, src_h, cfg.scale_size());
        if rw == 0 || rh == 0 {
            return Err(Error::InvalidInput(format!("image of {src_w}x{src_h} is too thin to resize")));
        }
        let (ox, oy) = (crop_offset(rw, size), crop_offset(rh, size));
        // Crop positions p with 0 <= p + offset < resized.
        let range = |off: isize, resized: usize| {
            let lo = (-off).max(0) as usize;
            let hi = ((resized as isize - off).min(size as isize)).max(lo as isize) as usize;
            lo..hi
        };
        let cols = range(ox, rw);
        let rows = range(oy, rh);
        let to_resized = |p: usize, off: isize| (p as isize + off) as usize;
        let rcols = to_resized(cols.start, ox)..to_resized(cols.end, ox);
        let rrows = to_resized(rows.start, oy)..to_resized(rows.end, oy);
        let horiz = (rw != src_w).then(|| Taps::new(src_w, rw, rcols.clone(), cfg.interpolation));
        let vert = (rh != src_h).then(|| Taps::new(src_h, rh, rrows.clone(), cfg.interpolation));
        let (first_row, tmp_rows) = match &vert {
            Some(v) if !rows.is_empty() => {
                let first = v.bounds[0].0;
                let last = v.bounds.iter().map(|&(s, n)| s + n).max().unwrap_or(first);
                (first, last - first)
            }
            Some(_) => (0, 0),
            None => (rrows.start, rrows.len()),
        };
        Ok(Preprocessor {
            cfg: cfg.clone(),
            src_w,
            src_h,
            col_at: rcols.start,
            row_at: rrows.start,
            cols,
            rows,
            horiz,
            vert,
            first_row,
            tmp_rows,
            tmp: vec![0u8; tmp_rows * rcols.len() * 3],
            rows_seen: 0,
        })
    }

    /// Feed source rows `y0 .. y0 + n` (RGB or RGBA, `stride` bytes per row; alpha is dropped
    /// as PIL's convert('RGB') does). Strips must arrive in order.
    pub fn push_rows(&mut self, y0: usize, pixels: &[u8], channels: usize, stride: usize) -> Result<()> {
        if channels != 3 && channels != 4 {
            return Err(Error::InvalidInput(format!("{channels} channels per pixel; expected 3 (RGB) or 4 (RGBA)")));
        }
        if stride < self.src_w * channels {
            return Err(Error::InvalidInput(format!("row stride {stride} is shorter than a row of {} pixels", self.src_w)));
        }
        if y0 != self.rows_seen {
            return Err(Error::InvalidInput(format!("rows must arrive in order: got row {y0}, expected {}", self.rows_seen)));
        }
        let n = if pixels.len() < self.src_w * channels { 0 } else { (pixels.len() - self.src_w * channels) / stride + 1 };
        let n = n.min(self.src_h - y0);
        let ncols = self.cols.len();
        for r in 0..n {
            let y = y0 + r;
            if y < self.first_row || y >= self.first_row + self.tmp_rows {
                continue;
            }
            let src = &pixels[r * stride..r * stride + self.src_w * channels];
            let dst = &mut self.tmp[(y - self.first_row) * ncols * 3..][..ncols * 3];
            match &self.horiz {
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Some(h) if channels == 4 => {
                    // SAFETY: every tap window lies inside the source row (Taps::new clamps
                    // start + n to in_size = src_w), and dst holds ncols RGB pixels.
                    unsafe { resample_row_rgba_simd(src, h, dst) };
                }
                Some(h) => {
                    for i in 0..ncols {
                        let (start, k) = h.get(i);
                        let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
                        for (j, &kj) in k.iter().enumerate() {
                            let p = &src[(start + j) * channels..];
                            acc[0] += p[0] as i32 * kj;
                            acc[1] += p[1] as i32 * kj;
                            acc[2] += p[2] as i32 * kj;
                        }
                        dst[i * 3] = clip8(acc[0]);
                        dst[i * 3 + 1] = clip8(acc[1]);
                        dst[i * 3 + 2] = clip8(acc[2]);
                    }
                }
                None => {
                    for i in 0..ncols {
                        let p = &src[(self.col_at + i) * channels..];
                        dst[i * 3..i * 3 + 3].copy_from_slice(&p[..3]);
                    }
                }
            }
        }
        self.rows_seen = y0 + n;
        Ok(())
    }

    /// The resized and cropped image as RGB bytes, size x size (zeros where torchvision pads).
    pub fn finish_u8(&self) -> Result<Vec<u8>> {
        if self.rows_seen < self.src_h {
            return Err(Error::InvalidInput(format!("only {} of {} image rows were provided", self.rows_seen, self.src_h)));
        }
        let size = self.cfg.input_size;
        let ncols = self.cols.len();
        let mut out = vec![0u8; size * size * 3];
        // One output row's sums: taps outer, pixels inner (a loop the compiler vectorizes);
        // every sum still adds its taps in order, as PIL does.
        let mut acc = vec![0i32; ncols * 3];
        for (i, oy) in self.rows.clone().enumerate() {
            let dst = &mut out[(oy * size + self.cols.start) * 3..][..ncols * 3];
            match &self.vert {
                Some(v) => {
                    let (start, k) = v.get(i);
                    acc.fill(1i32 << (PRECISION_BITS - 1));
                    for (j, &kj) in k.iter().enumerate() {
                        let row = &self.tmp[(start + j - self.first_row) * ncols * 3..][..ncols * 3];
                        for (a, &t) in acc.iter_mut().zip(row) {
                            *a += t as i32 * kj;
                        }
                    }
                    for (d, &a) in dst.iter_mut().zip(&acc) {
                        *d = clip8(a);
                    }
                }
                None => {
                    let y = self.row_at + i - self.first_row;
                    dst.copy_from_slice(&self.tmp[y * ncols * 3..][..ncols * 3]);
                }
            }
        }
        Ok(out)
    }

    /// The normalized NHWC tensor: (v / 255 - mean) / std in f32, as torchvision computes it.
    pub fn finish(&self) -> Result<Vec<f32>> {
        let rgb = self.finish_u8()?;
        Ok(normalize(&rgb, &self.cfg))
    }
}

/// ToTensor + Normalize on RGB bytes: (v / 255 - mean) / std, looked up in a table of the 256
/// values per channel computed by that same expression (so bit-identical, without a division
/// per element).
pub fn normalize(rgb: &[u8], cfg: &PreprocessConfig) -> Vec<f32> {
    let table: Vec<[f32; 256]> = (0..3)
        .map(|c| std::array::from_fn(|v| (v as f32 / 255.0 - cfg.mean[c]) / cfg.std[c]))
        .collect();
    let mut out = vec![0f32; rgb.len() / 3 * 3];
    for (o, p) in out.chunks_exact_mut(3).zip(rgb.chunks_exact(3)) {
        o[0] = table[0][p[0] as usize];
        o[1] = table[1][p[1] as usize];
        o[2] = table[2][p[2] as usize];
    }
    out
}

/// The horizontal pass on one RGBA row with wasm SIMD128: each output pixel is one i32x4 sum of
/// its taps (alpha rides along in lane 3 and is dropped), the same fixed-point sums in the same
/// order as the scalar loop of `push_rows` (its reference twin; tests compare RGBA with RGB).
///
/// # Safety
/// `src` must hold the RGBA pixels of every tap window of `h`, `dst` 3 bytes per output.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
unsafe fn resample_row_rgba_simd(src: &[u8], h: &Taps, dst: &mut [u8]) {
    use core::arch::wasm32::*;
    let half = i32x4_splat(1 << (PRECISION_BITS - 1));
    for (i, d) in dst.chunks_exact_mut(3).enumerate() {
        let (start, k) = h.get(i);
        debug_assert!((start + k.len()) * 4 <= src.len());
        let mut acc = half;
        let mut p = src.as_ptr().add(start * 4);
        for &kj in k {
            let px = u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(v128_load32_zero(p as *const u32)));
            acc = i32x4_add(acc, i32x4_mul(px, i32x4_splat(kj)));
            p = p.add(4);
        }
        // >> PRECISION_BITS, then the saturating narrows clamp to 0..=255 as clip8 does.
        let v = i32x4_shr(acc, PRECISION_BITS);
        let b = u8x16_narrow_i16x8(i16x8_narrow_i32x4(v, v), i16x8_narrow_i32x4(v, v));
        d[0] = u8x16_extract_lane::<0>(b);
        d[1] = u8x16_extract_lane::<1>(b);
        d[2] = u8x16_extract_lane::<2>(b);
    }
}

/// Whole-image convenience: `pixels` is tightly packed RGB (3) or RGBA (4) rows.
pub fn preprocess(cfg: &PreprocessConfig, pixels: &[u8], width: usize, height: usize, channels: usize) -> Result<Vec<f32>> {
    let mut p = Preprocessor::new(cfg, width, height)?;
    let need = width.checked_mul(height).and_then(|n| n.checked_mul(channels));
    if need != Some(pixels.len()) {
        return Err(Error::InvalidInput(format!("{} bytes of pixels for a {width}x{height} image with {channels} channels", pixels.len())));
    }
    p.push_rows(0, pixels, channels, width * channels)?;
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(size: usize, crop_pct: f64, interp: Interpolation) -> PreprocessConfig {
        PreprocessConfig { input_size: size, crop_pct, interpolation: interp, mean: [0.5; 3], std: [0.5; 3] }
    }

    #[test]
    fn torchvision_sizes_and_offsets() {
        assert_eq!(resized_size(299, 299, 256), (256, 256));
        assert_eq!(resized_size(640, 480, 256), (341, 256));
        assert_eq!(resized_size(480, 640, 256), (256, 341));
        assert_eq!(crop_offset(256, 224), 16);
        assert_eq!(crop_offset(257, 224), 16); // 16.5 rounds to even
        assert_eq!(crop_offset(259, 224), 18); // 17.5 rounds to even
        assert_eq!(crop_offset(200, 224), -12);
    }

    #[test]
    fn identity_when_sizes_match() {
        // 8x8 image, crop_pct 1 -> no resampling, the crop is the image itself.
        let px: Vec<u8> = (0..8 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let mut p = Preprocessor::new(&cfg(8, 1.0, Interpolation::Bicubic), 8, 8).unwrap();
        p.push_rows(0, &px, 3, 24).unwrap();
        assert_eq!(p.finish_u8().unwrap(), px);
    }

    /// RGBA rows take the SIMD horizontal pass in wasm builds, RGB rows the scalar one: equal
    /// bytes, for down- and upscaling, both filters.
    #[test]
    fn rgba_equals_rgb_when_up_and_downscaling() {
        for &(w, h, size, crop_pct) in &[(37, 53, 16, 0.875), (11, 9, 16, 0.875), (300, 7, 24, 0.875), (19, 40, 16, 1.0)] {
            let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 131 + i / 7) % 256) as u8).collect();
            let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255 - p[0]]).collect();
            for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
                let c = cfg(size, crop_pct, interp);
                let mut a = Preprocessor::new(&c, w, h).unwrap();
                a.push_rows(0, &rgb, 3, w * 3).unwrap();
                let mut b = Preprocessor::new(&c, w, h).unwrap();
                b.push_rows(0, &rgba, 4, w * 4).unwrap();
                assert_eq!(a.finish_u8().unwrap(), b.finish_u8().unwrap(), "{w}x{h} -> {size} {interp:?}");
            }
        }
    }

    #[test]
    fn normalize_table_equals_the_expression() {
        let c = PreprocessConfig { input_size: 1, crop_pct: 1.0, interpolation: Interpolation::Bicubic, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
        let rgb: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 3]).collect();
        let got = normalize(&rgb, &c);
        for (i, (&g, &v)) in got.iter().zip(&rgb).enumerate() {
            let ch = i % 3;
            assert_eq!(g.to_bits(), ((v as f32 / 255.0 - c.mean[ch]) / c.std[ch]).to_bits());
        }
    }

    #[test]
    fn strips_equal_whole_image_and_rgba_equals_rgb() {
        let (w, h) = (37, 53);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 131 + i / 7) % 256) as u8).collect();
        let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 9]).collect();
        for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
            let c = cfg(16, 0.875, interp);
            let whole = preprocess(&c, &rgb, w, h, 3).unwrap();
            assert_eq!(preprocess(&c, &rgba, w, h, 4).unwrap(), whole);
            let mut p = Preprocessor::new(&c, w, h).unwrap();
            for y in (0..h).step_by(10) {
                let n = 10.min(h - y);
                p.push_rows(y, &rgba[y * w * 4..(y + n) * w * 4], 4, w * 4).unwrap();
            }
            assert_eq!(p.finish().unwrap(), whole);
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let c = cfg(16, 0.875, Interpolation::Bilinear);
        assert!(Preprocessor::new(&c, 0, 10).is_err());
        assert!(preprocess(&c, &[0; 10], 2, 2, 3).is_err());
        assert!(preprocess(&c, &[0; 8], 2, 2, 2).is_err());
        let p = Preprocessor::new(&c, 4, 4).unwrap();
        assert!(p.finish().is_err(), "missing rows must be reported");
        // A 1-pixel-wide strip of an image still works (resized to at least 1 pixel).
        assert!(preprocess(&c, &[200; 3 * 1000], 1, 1000, 3).is_ok());
    }
}
