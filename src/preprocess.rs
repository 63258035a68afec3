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

/// How a source row stores its pixels: RGB, or 4 bytes per pixel with red first (RGBA, RGBX) or
/// blue first (BGRA, BGRX: what browsers' VideoFrames often hold). A fourth byte is dropped, as
/// PIL's convert('RGB') drops alpha.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelLayout {
    Rgb,
    Rgba,
    Bgra,
}

impl PixelLayout {
    /// RGB (3) or RGBA (4).
    pub fn from_channels(channels: usize) -> Result<PixelLayout> {
        match channels {
            3 => Ok(PixelLayout::Rgb),
            4 => Ok(PixelLayout::Rgba),
            _ => Err(Error::InvalidInput(format!("{channels} channels per pixel; expected 3 (RGB) or 4 (RGBA)"))),
        }
    }

    pub fn bytes_per_pixel(self) -> usize {
        if self == PixelLayout::Rgb {
            3
        } else {
            4
        }
    }

    /// Byte offsets of red, green and blue within a pixel.
    fn rgb_offsets(self) -> [usize; 3] {
        if self == PixelLayout::Bgra {
            [2, 1, 0]
        } else {
            [0, 1, 2]
        }
    }
}

/// The part of the source image that the crop depends on (columns `x0..x1`, rows `y0..y1`):
/// the rest never reaches the output, so callers need not read or send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceWindow {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// Resampling plan for one source size, fed with source rows in any number of strips; reusable
/// for the next image of the same size (`reset`), so live video keeps its taps and buffers.
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
    /// `horiz` rearranged for the SIMD pass on 4-byte pixels (None: the window is too narrow).
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    horiz_pairs: Option<PairTaps>,
    vert: Option<Taps>,
    window: SourceWindow,
    /// Source rows needed: [first_row, first_row + tmp_rows).
    first_row: usize,
    tmp_rows: usize,
    /// Horizontally resampled rows, RGB, `cols.len()` wide.
    tmp: Vec<u8>,
    /// One output row's fixed-point sums (reused).
    acc: Vec<i32>,
    norm: Normalizer,
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
        // An axis already at its resized length is not resampled (PIL skips it too).
        let horiz = (rw != src_w).then(|| Taps::new(src_w, rw, rcols.clone(), cfg.interpolation));
        let vert = (rh != src_h).then(|| Taps::new(src_h, rh, rrows.clone(), cfg.interpolation));
        // Source span an axis reads: every tap window, or the cropped range itself.
        let span = |t: &Option<Taps>, direct: &std::ops::Range<usize>| match t {
            Some(t) if !t.bounds.is_empty() => {
                let first = t.bounds.iter().map(|&(s, _)| s).min().unwrap_or(0);
                let last = t.bounds.iter().map(|&(s, n)| s + n).max().unwrap_or(first);
                (first, last)
            }
            Some(_) => (0, 0),
            None => (direct.start, direct.end),
        };
        let (x0, x1) = span(&horiz, &rcols);
        let (first_row, last_row) = span(&vert, &rrows);
        let horiz_pairs = horiz.as_ref().and_then(|h| PairTaps::new(h, x0, x1));
        Ok(Preprocessor {
            cfg: cfg.clone(),
            src_w,
            src_h,
            col_at: rcols.start,
            row_at: rrows.start,
            cols,
            rows,
            horiz,
            horiz_pairs,
            vert,
            window: SourceWindow { x0, y0: first_row, x1, y1: last_row },
            first_row,
            tmp_rows: last_row - first_row,
            tmp: vec![0u8; (last_row - first_row) * rcols.len() * 3],
            acc: vec![0i32; rcols.len() * 3],
            norm: Normalizer::new(cfg),
            rows_seen: 0,
        })
    }

    /// Source size this plan is for.
    pub fn source_size(&self) -> (usize, usize) {
        (self.src_w, self.src_h)
    }

    /// The source pixels the output depends on; rows and columns outside it may be left out.
    pub fn window(&self) -> SourceWindow {
        self.window
    }

    /// Start over with a new image of the same size (taps and buffers are kept).
    pub fn reset(&mut self) {
        self.rows_seen = 0;
    }

    /// Feed whole source rows `y0 .. y0 + n` (RGB or RGBA, `stride` bytes per row). Strips must
    /// arrive in order.
    pub fn push_rows(&mut self, y0: usize, pixels: &[u8], channels: usize, stride: usize) -> Result<()> {
        let layout = PixelLayout::from_channels(channels)?;
        if stride < self.src_w * channels {
            return Err(Error::InvalidInput(format!("row stride {stride} is shorter than a row of {} pixels", self.src_w)));
        }
        self.push_window_rows(y0, 0, pixels, layout, stride)
    }

    /// Feed source rows `y0 .. y0 + n` whose first pixel is source column `x0`; each row must
    /// reach at least to the window's right edge (`window().x1`), and `x0 <= window().x0`.
    /// Rows must arrive in order, without a gap inside the window (rows before `window().y0`
    /// may be left out).
    pub fn push_window_rows(&mut self, y0: usize, x0: usize, pixels: &[u8], layout: PixelLayout, stride: usize) -> Result<()> {
        let bpp = layout.bytes_per_pixel();
        let win = self.window;
        if x0 > win.x0 {
            return Err(Error::InvalidInput(format!("rows start at column {x0}, after column {} that the crop needs", win.x0)));
        }
        let row_bytes = win.x1.saturating_sub(x0) * bpp;
        if stride < row_bytes.max(1) {
            return Err(Error::InvalidInput(format!("row stride {stride} is shorter than the {row_bytes} bytes the crop needs per row")));
        }
        if y0 < self.rows_seen || y0 > self.rows_seen.max(self.first_row) {
            return Err(Error::InvalidInput(format!("rows must arrive in order: got row {y0}, expected {}", self.rows_seen)));
        }
        let n = if pixels.len() < row_bytes { 0 } else { (pixels.len() - row_bytes) / stride + 1 };
        let n = n.min(self.src_h - y0);
        let ncols = self.cols.len();
        let rgb = layout.rgb_offsets();
        for r in 0..n {
            let y = y0 + r;
            if y < self.first_row || y >= self.first_row + self.tmp_rows {
                continue;
            }
            let src = &pixels[r * stride..r * stride + row_bytes];
            let dst = &mut self.tmp[(y - self.first_row) * ncols * 3..][..ncols * 3];
            match (&self.horiz, &self.horiz_pairs) {
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                (Some(_), Some(t)) if bpp == 4 => {
                    // SAFETY: every padded tap window lies inside the source window (PairTaps::new),
                    // which `src` covers from column x0 <= window.x0; dst holds ncols pixels.
                    unsafe { resample_row_4_pairs(src, x0, t, layout == PixelLayout::Bgra, dst) };
                }
                (Some(h), _) => resample_row(src, x0, bpp, rgb, h, dst),
                (None, _) => {
                    for (i, d) in dst.chunks_exact_mut(3).enumerate() {
                        let p = &src[(self.col_at + i - x0) * bpp..];
                        d.copy_from_slice(&[p[rgb[0]], p[rgb[1]], p[rgb[2]]]);
                    }
                }
            }
        }
        self.rows_seen = y0 + n;
        Ok(())
    }

    fn check_complete(&self) -> Result<()> {
        if self.rows_seen < self.window.y1 {
            return Err(Error::InvalidInput(format!("only {} of {} image rows were provided", self.rows_seen, self.src_h)));
        }
        Ok(())
    }

    /// The resized and cropped image as RGB bytes, size x size (zeros where torchvision pads):
    /// the plain reference of `finish_into`'s resampling.
    pub fn finish_u8(&self) -> Result<Vec<u8>> {
        self.check_complete()?;
        let size = self.cfg.input_size;
        let ncols = self.cols.len();
        let mut out = vec![0u8; size * size * 3];
        let mut acc = vec![0i32; ncols * 3];
        for (i, oy) in self.rows.clone().enumerate() {
            let dst = &mut out[(oy * size + self.cols.start) * 3..][..ncols * 3];
            self.vertical_row(i, &mut acc);
            for (d, &a) in dst.iter_mut().zip(&acc) {
                *d = clip8(a);
            }
        }
        Ok(out)
    }

    /// Fixed-point sums of output row `i` of the crop (the vertical pass, PIL's tap order), or
    /// the row itself at the same fixed point when there is no vertical resampling.
    fn vertical_row(&self, i: usize, acc: &mut [i32]) {
        let n = self.cols.len() * 3;
        match &self.vert {
            Some(v) => {
                let (start, k) = v.get(i);
                acc.fill(1i32 << (PRECISION_BITS - 1));
                for (j, &kj) in k.iter().enumerate() {
                    let row = &self.tmp[(start + j - self.first_row) * n..][..n];
                    for (a, &t) in acc.iter_mut().zip(row) {
                        *a += t as i32 * kj;
                    }
                }
            }
            None => {
                let y = self.row_at + i - self.first_row;
                for (a, &t) in acc.iter_mut().zip(&self.tmp[y * n..][..n]) {
                    *a = (t as i32) << PRECISION_BITS;
                }
            }
        }
    }

    /// The normalized NHWC tensor: (v / 255 - mean) / std in f32, as torchvision computes it.
    pub fn finish(&mut self) -> Result<Vec<f32>> {
        let size = self.cfg.input_size;
        let mut out = vec![0f32; size * size * 3];
        self.finish_into(&mut out)?;
        Ok(out)
    }

    /// `finish` into a caller's tensor of size x size x 3 (reused across calls): the vertical
    /// pass and the normalization in one sweep (SIMD128 in wasm). Equal bit for bit to
    /// `normalize(finish_u8())`, its reference.
    pub fn finish_into(&mut self, out: &mut [f32]) -> Result<()> {
        self.check_complete()?;
        let size = self.cfg.input_size;
        if out.len() != size * size * 3 {
            return Err(Error::InvalidInput(format!("tensor of {} floats for a {size}x{size}x3 input", out.len())));
        }
        let pad = self.norm.zero;
        let mut acc = std::mem::take(&mut self.acc);
        for oy in 0..size {
            let row = &mut out[oy * size * 3..][..size * 3];
            if !self.rows.contains(&oy) {
                fill_pixels(row, pad);
                continue;
            }
            let i = oy - self.rows.start;
            fill_pixels(&mut row[..self.cols.start * 3], pad);
            fill_pixels(&mut row[self.cols.end * 3..], pad);
            // The crop's columns; they start at red.
            let mid = &mut row[self.cols.start * 3..self.cols.end * 3];
            match &self.vert {
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Some(v) => {
                    let n = self.cols.len() * 3;
                    let (start, k) = v.get(i);
                    // SAFETY: tap rows start .. start + k.len() lie inside tmp (it spans every
                    // tap row); mid holds n floats.
                    unsafe { vertical_normalize_simd(&self.tmp[(start - self.first_row) * n..], n, k, &self.norm, mid) };
                }
                _ => {
                    self.vertical_row(i, &mut acc);
                    for (j, (o, &a)) in mid.iter_mut().zip(&acc).enumerate() {
                        *o = self.norm.table[j % 3][clip8(a) as usize];
                    }
                }
            }
        }
        self.acc = acc;
        Ok(())
    }
}

fn fill_pixels(row: &mut [f32], pixel: [f32; 3]) {
    for p in row.chunks_exact_mut(3) {
        p.copy_from_slice(&pixel);
    }
}

/// ToTensor + Normalize constants of one config: a table of the 256 values per channel, each
/// (v / 255 - mean) / std computed by that same f32 expression (so bit-identical to torchvision
/// without a division per element).
#[derive(Clone)]
struct Normalizer {
    table: [[f32; 256]; 3],
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    mean: [f32; 3],
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    std: [f32; 3],
    /// What a padded (zero) pixel becomes.
    zero: [f32; 3],
}

impl Normalizer {
    fn new(cfg: &PreprocessConfig) -> Normalizer {
        let value = |c: usize, v: u8| (v as f32 / 255.0 - cfg.mean[c]) / cfg.std[c];
        let table = std::array::from_fn(|c| std::array::from_fn(|v| value(c, v as u8)));
        Normalizer { table, mean: cfg.mean, std: cfg.std, zero: std::array::from_fn(|c| value(c, 0)) }
    }
}

/// The horizontal pass on one row (the plain reference of `resample_row_4_simd`): pixel `i` of
/// `src` is source column `x0 + i`, `bpp` bytes with red, green, blue at `rgb`.
fn resample_row(src: &[u8], x0: usize, bpp: usize, rgb: [usize; 3], h: &Taps, dst: &mut [u8]) {
    for (i, d) in dst.chunks_exact_mut(3).enumerate() {
        let (start, k) = h.get(i);
        let mut acc = [1i32 << (PRECISION_BITS - 1); 3];
        for (j, &kj) in k.iter().enumerate() {
            let p = &src[(start + j - x0) * bpp..];
            acc[0] += p[rgb[0]] as i32 * kj;
            acc[1] += p[rgb[1]] as i32 * kj;
            acc[2] += p[rgb[2]] as i32 * kj;
        }
        d[0] = clip8(acc[0]);
        d[1] = clip8(acc[1]);
        d[2] = clip8(acc[2]);
    }
}

/// ToTensor + Normalize on RGB bytes: (v / 255 - mean) / std (see `Normalizer`).
pub fn normalize(rgb: &[u8], cfg: &PreprocessConfig) -> Vec<f32> {
    let norm = Normalizer::new(cfg);
    let mut out = vec![0f32; rgb.len() / 3 * 3];
    for (o, p) in out.chunks_exact_mut(3).zip(rgb.chunks_exact(3)) {
        o[0] = norm.table[0][p[0] as usize];
        o[1] = norm.table[1][p[1] as usize];
        o[2] = norm.table[2][p[2] as usize];
    }
    out
}

/// Bits of the low half when a fixed-point coefficient is split for i16 dot products.
const SPLIT_BITS: u32 = 11;

/// The horizontal taps laid out for `resample_row_4_pairs`: each output's taps padded with zero
/// coefficients to `pairs` * 2 (its window moved left where it would pass the source window's
/// right edge), and each coefficient k split as k = hi * 2^SPLIT_BITS + lo (lo in 0..2^SPLIT_BITS),
/// both of which fit in i16. The sums stay exact integers, so the result equals PIL's.
#[derive(Debug, Clone)]
struct PairTaps {
    pairs: usize,
    /// Per output: the source column of its first (padded) tap.
    starts: Vec<usize>,
    /// Per output, per pair of taps: [hi0, hi1, lo0, lo1].
    coeffs: Vec<i16>,
}

impl PairTaps {
    /// None when the source window `x0..x1` is narrower than the padded taps.
    fn new(t: &Taps, x0: usize, x1: usize) -> Option<PairTaps> {
        let longest = t.bounds.iter().map(|&(_, n)| n).max()?;
        let pairs = longest.div_ceil(2);
        if pairs == 0 || x1 < x0 + 2 * pairs {
            return None;
        }
        let mut starts = Vec::with_capacity(t.bounds.len());
        let mut coeffs = vec![0i16; t.bounds.len() * pairs * 4];
        for i in 0..t.bounds.len() {
            let (start, k) = t.get(i);
            // start >= x0 and start + k.len() <= x1 (the window spans every tap), so the padded
            // window s .. s + 2 * pairs lies inside x0..x1 and covers the real taps.
            let s = start.min(x1 - 2 * pairs);
            starts.push(s);
            for (j, &kj) in k.iter().enumerate() {
                let pos = start - s + j;
                let c = &mut coeffs[(i * pairs + pos / 2) * 4..][..4];
                c[pos % 2] = i16::try_from(kj >> SPLIT_BITS).ok()?;
                c[2 + pos % 2] = (kj & ((1 << SPLIT_BITS) - 1)) as i16;
            }
        }
        Some(PairTaps { pairs, starts, coeffs })
    }
}

/// The horizontal pass on one row of 4-byte pixels with wasm SIMD128 (reference twin:
/// `resample_row`; tests compare them). Two source pixels at a time: their 8 bytes widened to
/// i16, reordered to [r0 r1 g0 g1 b0 b1 x0 x1], and two i16 dot products with the pair's high and
/// low coefficient halves give each channel's p0 * k0 + p1 * k1 in i32 lanes. Integer sums are
/// exact in any order, so the result equals the reference bit for bit.
///
/// # Safety
/// `src` must hold the 4-byte pixels of every padded tap window of `t` from column `x0`; `dst`
/// holds 3 bytes per output (at most `t.starts.len()` outputs).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
unsafe fn resample_row_4_pairs(src: &[u8], x0: usize, t: &PairTaps, blue_first: bool, dst: &mut [u8]) {
    // Unrolled for the tap counts of the usual resizes (224 -> 256 up: 3 pairs; 640x480 -> 256
    // down: 4), a loop otherwise.
    match (t.pairs, blue_first) {
        (3, false) => resample_row_4_pairs_n::<3, false>(src, x0, t, dst),
        (3, true) => resample_row_4_pairs_n::<3, true>(src, x0, t, dst),
        (4, false) => resample_row_4_pairs_n::<4, false>(src, x0, t, dst),
        (4, true) => resample_row_4_pairs_n::<4, true>(src, x0, t, dst),
        (5, false) => resample_row_4_pairs_n::<5, false>(src, x0, t, dst),
        (5, true) => resample_row_4_pairs_n::<5, true>(src, x0, t, dst),
        (_, false) => resample_row_4_pairs_n::<0, false>(src, x0, t, dst),
        (_, true) => resample_row_4_pairs_n::<0, true>(src, x0, t, dst),
    }
}

/// `resample_row_4_pairs` with `P` pairs of taps (0: `t.pairs`, not unrolled).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn resample_row_4_pairs_n<const P: usize, const BLUE_FIRST: bool>(src: &[u8], x0: usize, t: &PairTaps, dst: &mut [u8]) {
    use core::arch::wasm32::*;
    let pairs = if P == 0 { t.pairs } else { P };
    let n = dst.len() / 3;
    debug_assert!(n <= t.starts.len() && t.coeffs.len() >= n * pairs * 4);
    let half = i32x4_splat(1 << (PRECISION_BITS - 1));
    let mut c = t.coeffs.as_ptr();
    let d = dst.as_mut_ptr();
    for i in 0..n {
        let s = *t.starts.get_unchecked(i);
        debug_assert!((s + 2 * pairs - x0) * 4 <= src.len());
        let mut p = src.as_ptr().add((s - x0) * 4);
        let mut hi = i32x4_splat(0);
        let mut lo = half;
        for _ in 0..pairs {
            let px = u16x8_load_extend_u8x8(p);
            let px = if BLUE_FIRST { i16x8_shuffle::<2, 6, 1, 5, 0, 4, 3, 7>(px, px) } else { i16x8_shuffle::<0, 4, 1, 5, 2, 6, 3, 7>(px, px) };
            hi = i32x4_add(hi, i32x4_dot_i16x8(px, v128_load32_splat(c as *const u32)));
            lo = i32x4_add(lo, i32x4_dot_i16x8(px, v128_load32_splat(c.add(2) as *const u32)));
            p = p.add(8);
            c = c.add(4);
        }
        // >> PRECISION_BITS, then the saturating narrows clamp to 0..=255 as clip8 does.
        let v = i32x4_shr(i32x4_add(i32x4_shl(hi, SPLIT_BITS), lo), PRECISION_BITS);
        let b = i16x8_narrow_i32x4(v, v);
        let b = u8x16_narrow_i16x8(b, b);
        if i + 1 < n {
            // 4 bytes; the fourth is overwritten by the next pixel.
            v128_store32_lane::<0>(b, d.add(3 * i) as *mut u32);
        } else {
            let bytes = u32x4_extract_lane::<0>(b).to_le_bytes();
            *d.add(3 * i) = bytes[0];
            *d.add(3 * i + 1) = bytes[1];
            *d.add(3 * i + 2) = bytes[2];
        }
    }
}

/// The vertical pass of one output row fused with the normalization, wasm SIMD128: 16 bytes of
/// the row at a time, their sums over the taps in four i32x4, clamped as `clip8` does, then
/// normalized by the same f32 operations as `Normalizer`'s table (IEEE division both ways), so
/// it equals `vertical_row` + the table bit for bit (tests compare them).
///
/// # Safety
/// `tmp` must hold `k.len()` rows of `n` bytes; `out` must hold `n` floats starting at red.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
unsafe fn vertical_normalize_simd(tmp: &[u8], n: usize, k: &[i32], norm: &Normalizer, out: &mut [f32]) {
    use core::arch::wasm32::*;
    debug_assert!(tmp.len() >= k.len() * n && out.len() >= n);
    // Per-channel constants for 4 lanes starting at channel 0, 1 or 2.
    let pat = |v: [f32; 3], c: usize| f32x4(v[c % 3], v[(c + 1) % 3], v[(c + 2) % 3], v[c % 3]);
    let mean = [pat(norm.mean, 0), pat(norm.mean, 1), pat(norm.mean, 2)];
    let std = [pat(norm.std, 0), pat(norm.std, 1), pat(norm.std, 2)];
    let half = i32x4_splat(1 << (PRECISION_BITS - 1));
    let (lo8, hi8) = (i32x4_splat(0), i32x4_splat(255));
    let f255 = f32x4_splat(255.0);
    let mut j = 0;
    while j + 16 <= n {
        let mut acc = [half; 4];
        let mut p = tmp.as_ptr().add(j);
        for &kj in k {
            let w = i32x4_splat(kj);
            let b = v128_load(p as *const v128);
            let lo = u16x8_extend_low_u8x16(b);
            let hi = u16x8_extend_high_u8x16(b);
            acc[0] = i32x4_add(acc[0], i32x4_mul(u32x4_extend_low_u16x8(lo), w));
            acc[1] = i32x4_add(acc[1], i32x4_mul(u32x4_extend_high_u16x8(lo), w));
            acc[2] = i32x4_add(acc[2], i32x4_mul(u32x4_extend_low_u16x8(hi), w));
            acc[3] = i32x4_add(acc[3], i32x4_mul(u32x4_extend_high_u16x8(hi), w));
            p = p.add(n);
        }
        for (q, a) in acc.into_iter().enumerate() {
            let e = j + 4 * q;
            let v = i32x4_min(i32x4_max(i32x4_shr(a, PRECISION_BITS), lo8), hi8);
            let f = f32x4_div(f32x4_sub(f32x4_div(f32x4_convert_i32x4(v), f255), mean[e % 3]), std[e % 3]);
            v128_store(out.as_mut_ptr().add(e) as *mut v128, f);
        }
        j += 16;
    }
    for e in j..n {
        let mut a = 1i32 << (PRECISION_BITS - 1);
        for (t, &kj) in k.iter().enumerate() {
            a += tmp[t * n + e] as i32 * kj;
        }
        out[e] = norm.table[e % 3][clip8(a) as usize];
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

    /// RGBA rows take the SIMD horizontal pass in wasm builds (its unrolled tap counts and its
    /// loop), RGB rows the scalar one: equal bytes, for down- and upscaling, both filters, and
    /// the runtime's usual geometries (a 224x224 ImageData and a 640x480 frame to 224).
    #[test]
    fn rgba_equals_rgb_when_up_and_downscaling() {
        let cases = [(37, 53, 16, 0.875), (11, 9, 16, 0.875), (300, 7, 24, 0.875), (19, 40, 16, 1.0), (224, 224, 224, 0.875), (640, 480, 224, 0.875), (97, 64, 8, 0.875), (3, 90, 16, 0.875)];
        for &(w, h, size, crop_pct) in &cases {
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

    /// Feeding only the source window (rows from `y0`, columns from `x0`, BGRA or RGBA, in
    /// strips), reusing the plan for a second image of the same size, and the fused
    /// vertical + normalize sweep (SIMD in wasm builds) all equal the whole-image reference
    /// `normalize(finish_u8())` bit for bit, for down- and upscaling and both filters.
    #[test]
    fn window_layouts_reuse_and_fused_finish_equal_the_reference() {
        let cases = [(640, 480, 24, 0.875), (37, 53, 16, 0.875), (11, 9, 16, 0.875), (300, 7, 24, 0.875), (16, 16, 16, 1.0), (18, 18, 16, 0.875), (50, 20, 16, 1.0)];
        for &(w, h, size, crop_pct) in &cases {
            for interp in [Interpolation::Bilinear, Interpolation::Bicubic] {
                let mut c = cfg(size, crop_pct, interp);
                c.mean = [0.485, 0.456, 0.406];
                c.std = [0.229, 0.224, 0.225];
                let mut plan = Preprocessor::new(&c, w, h).unwrap();
                let win = plan.window();
                assert!(win.x0 < win.x1 && win.x1 <= w && win.y0 < win.y1 && win.y1 <= h, "{win:?} in {w}x{h}");
                for seed in 0..2usize {
                    let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 131 + i / 7 + seed * 29) % 256) as u8).collect();
                    let mut whole = Preprocessor::new(&c, w, h).unwrap();
                    whole.push_rows(0, &rgb, 3, w * 3).unwrap();
                    let want = normalize(&whole.finish_u8().unwrap(), &c);
                    assert_eq!(whole.finish().unwrap(), want, "fused finish, {w}x{h} -> {size} {interp:?}");
                    // BGRA of the window only, from column x0, in strips of 5 rows.
                    let bgra: Vec<u8> = (win.y0..win.y1)
                        .flat_map(|y| (win.x0..win.x1).flat_map(move |x| [y, x]))
                        .collect::<Vec<_>>()
                        .chunks(2)
                        .flat_map(|yx| {
                            let p = &rgb[(yx[0] * w + yx[1]) * 3..][..3];
                            [p[2], p[1], p[0], 7]
                        })
                        .collect();
                    let stride = (win.x1 - win.x0) * 4;
                    plan.reset();
                    for y in (win.y0..win.y1).step_by(5) {
                        let n = 5.min(win.y1 - y);
                        let strip = &bgra[(y - win.y0) * stride..][..n * stride];
                        plan.push_window_rows(y, win.x0, strip, PixelLayout::Bgra, stride).unwrap();
                    }
                    let mut got = vec![f32::NAN; size * size * 3];
                    plan.finish_into(&mut got).unwrap();
                    assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "window BGRA, image {seed}, {w}x{h} -> {size} {interp:?}");
                }
            }
        }
        // Rows must cover the window: a strip starting after its first row, or columns starting
        // after its left edge, are refused.
        let c = cfg(16, 0.875, Interpolation::Bilinear);
        let mut p = Preprocessor::new(&c, 64, 64).unwrap();
        let win = p.window();
        assert!(win.y0 > 0 && win.x0 > 0);
        assert!(p.push_window_rows(win.y0 + 1, 0, &[0; 64 * 4], PixelLayout::Rgba, 64 * 4).is_err());
        assert!(p.push_window_rows(win.y0, win.x0 + 1, &[0; 64 * 4], PixelLayout::Rgba, 64 * 4).is_err());
        assert!(p.finish().is_err());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let c = cfg(16, 0.875, Interpolation::Bilinear);
        assert!(Preprocessor::new(&c, 0, 10).is_err());
        assert!(preprocess(&c, &[0; 10], 2, 2, 3).is_err());
        assert!(preprocess(&c, &[0; 8], 2, 2, 2).is_err());
        let mut p = Preprocessor::new(&c, 4, 4).unwrap();
        assert!(p.finish().is_err(), "missing rows must be reported");
        // A 1-pixel-wide strip of an image still works (resized to at least 1 pixel).
        assert!(preprocess(&c, &[200; 3 * 1000], 1, 1000, 3).is_ok());
    }
}
