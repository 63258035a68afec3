//! The image size limit, and a reader for the dimensions an image file declares, so that a
//! decompression bomb (a few KB declaring 30000x30000) is refused before any decoder allocates
//! for it. Used by the native CLI before it decodes (`image_io`), by the preprocessor for pixels
//! handed over directly, and exported to the browser worker (`imageHeader`, `maxImagePixels`)
//! so it can refuse a file before `createImageBitmap` decodes it.
//!
//! Only the header is read: JPEG (SOFn), PNG (IHDR), GIF (logical screen), BMP, TIFF (first
//! IFD) and WebP (VP8 / VP8L / VP8X). Anything else gives `None`; the decoders' own limits
//! then apply.

use crate::error::{Error, Result};

/// Largest image accepted, in pixels: 2^26 = 67,108,864 (8192 x 8192), well above today's
/// camera photos (a 6000 x 4000 photo is 24 Mpx, a 50 Mpx phone photo 8160 x 6120) and below
/// Pillow's DecompressionBombError threshold (178,956,970), so decoding stays under ~1 GiB
/// even for a progressive CMYK JPEG.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 26;
/// Largest accepted side (a 1 x 60,000,000 strip is within the pixel limit but not useful).
pub const MAX_IMAGE_SIDE: u64 = 1 << 15;

/// What a file's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// "jpeg", "png", "gif", "bmp", "tiff" or "webp".
    pub format: &'static str,
    pub width: u64,
    pub height: u64,
}

/// Refuse `width` x `height` when it exceeds [`MAX_IMAGE_PIXELS`] or [`MAX_IMAGE_SIDE`].
pub fn check_dimensions(width: u64, height: u64) -> Result<()> {
    let pixels = width.saturating_mul(height);
    if pixels > MAX_IMAGE_PIXELS || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(Error::ImageTooLarge(format!(
            "the image is {width}x{height} pixels ({:.1} megapixels); the limit is {:.1} megapixels ({MAX_IMAGE_PIXELS} pixels) and {MAX_IMAGE_SIDE} pixels per side: scale it down first",
            pixels as f64 / 1e6,
            MAX_IMAGE_PIXELS as f64 / 1e6
        )));
    }
    Ok(())
}

/// Read the header and refuse an image above the limit. `Ok(None)` when the format is not one
/// this reader knows (the decoder decides).
pub fn check_header(bytes: &[u8]) -> Result<Option<ImageHeader>> {
    let h = read_header(bytes);
    if let Some(h) = h {
        check_dimensions(h.width, h.height)?;
    }
    Ok(h)
}

fn be16(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64)
}
fn le16(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64)
}
fn be32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}
fn le32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}
fn le24(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 3)?;
    Some(s[0] as u64 | (s[1] as u64) << 8 | (s[2] as u64) << 16)
}

/// The dimensions the file declares, or `None` for an unknown format or an unreadable header.
pub fn read_header(b: &[u8]) -> Option<ImageHeader> {
    let (format, width, height) = if b.starts_with(&[0xFF, 0xD8]) {
        let (w, h) = jpeg_size(b)?;
        ("jpeg", w, h)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        if b.get(12..16)? != b"IHDR" {
            return None;
        }
        ("png", be32(b, 16)?, be32(b, 20)?)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        ("gif", le16(b, 6)?, le16(b, 8)?)
    } else if b.starts_with(b"BM") {
        let (w, h) = if le32(b, 14)? == 12 {
            (le16(b, 18)?, le16(b, 20)?)
        } else {
            // BITMAPINFOHEADER and later: signed; a negative height means top-down rows.
            let w = le32(b, 18)? as u32 as i32;
            let h = le32(b, 22)? as u32 as i32;
            (w.unsigned_abs() as u64, h.unsigned_abs() as u64)
        };
        ("bmp", w, h)
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        let (w, h) = tiff_size(b)?;
        ("tiff", w, h)
    } else if b.starts_with(b"RIFF") && b.get(8..12)? == b"WEBP" {
        let (w, h) = webp_size(b)?;
        ("webp", w, h)
    } else {
        return None;
    };
    Some(ImageHeader { format, width, height })
}

/// The first SOFn segment's height and width (what libjpeg allocates for).
fn jpeg_size(b: &[u8]) -> Option<(u64, u64)> {
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while *b.get(at)? == 0xFF && *b.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *b.get(at)? != 0xFF {
            return None;
        }
        let marker = *b.get(at + 1)?;
        at += 2;
        match marker {
            // Standalone markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            // SOS or EOI before any SOF: no frame header.
            0xD9 | 0xDA => return None,
            // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(b, at + 5)?, be16(b, at + 3)?));
            }
            _ => at += be16(b, at)? as usize,
        }
    }
}

/// ImageWidth (256) and ImageLength (257) of the first IFD.
fn tiff_size(b: &[u8]) -> Option<(u64, u64)> {
    let le = b[0] == b'I';
    let u16_at = |at| if le { le16(b, at) } else { be16(b, at) };
    let u32_at = |at| if le { le32(b, at) } else { be32(b, at) };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = u16_at(ifd)? as usize;
    let (mut w, mut h) = (None, None);
    for i in 0..count {
        let e = ifd.checked_add(2 + 12 * i)?;
        let value = match u16_at(e + 2)? {
            3 => u16_at(e + 8)?,
            4 => u32_at(e + 8)?,
            _ => continue,
        };
        match u16_at(e)? {
            256 => w = Some(value),
            257 => h = Some(value),
            _ => {}
        }
    }
    Some((w?, h?))
}

fn webp_size(b: &[u8]) -> Option<(u64, u64)> {
    match b.get(12..16)? {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
            if b.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF))
        }
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let bits = le32(b, 21)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_sof(w: u16, h: u16, progressive: bool) -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xFF];
        f.extend([if progressive { 0xC2 } else { 0xC0 }, 0, 11, 8]);
        f.extend(h.to_be_bytes());
        f.extend(w.to_be_bytes());
        f.extend([1, 1, 0x11, 0]);
        f
    }

    #[test]
    fn reads_every_format() {
        assert_eq!(read_header(&jpeg_sof(30000, 20000, true)), Some(ImageHeader { format: "jpeg", width: 30000, height: 20000 }));
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend(20000u32.to_be_bytes());
        png.extend(10u32.to_be_bytes());
        assert_eq!(read_header(&png).map(|h| (h.width, h.height)), Some((20000, 10)));
        let gif = b"GIF89a\x10\x27\x20\x4e";
        assert_eq!(read_header(gif).map(|h| (h.width, h.height)), Some((10000, 20000)));
        let mut bmp = b"BM".to_vec();
        bmp.extend([0; 12]);
        bmp.extend(40u32.to_le_bytes());
        bmp.extend(7i32.to_le_bytes());
        bmp.extend((-9i32).to_le_bytes());
        assert_eq!(read_header(&bmp).map(|h| (h.width, h.height)), Some((7, 9)));
        let mut tiff = b"MM\0*\0\0\0\x08\0\x02".to_vec();
        tiff.extend([1, 0, 0, 4, 0, 0, 0, 1, 0, 1, 0, 0]); // width LONG 65536
        tiff.extend([1, 1, 0, 3, 0, 0, 0, 1, 0, 5, 0, 0]); // height SHORT 5
        assert_eq!(read_header(&tiff).map(|h| (h.width, h.height)), Some((65536, 5)));
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
        vp8x.extend([0x0F, 0x27, 0, 0x1F, 0x4E, 0]);
        assert_eq!(read_header(&vp8x).map(|h| (h.width, h.height)), Some((10000, 20000)));
        let mut vp8l = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
        vp8l.extend(((99u32) | (49 << 14)).to_le_bytes());
        assert_eq!(read_header(&vp8l).map(|h| (h.width, h.height)), Some((100, 50)));
        assert_eq!(read_header(b"not an image"), None);
    }

    #[test]
    fn limit_refuses_bombs_and_keeps_photos() {
        assert!(check_dimensions(6000, 4000).is_ok());
        assert!(check_dimensions(8192, 8192).is_ok());
        assert!(matches!(check_dimensions(8193, 8192), Err(Error::ImageTooLarge(_))));
        assert!(matches!(check_dimensions(40000, 1), Err(Error::ImageTooLarge(_))));
        assert!(matches!(check_header(&jpeg_sof(30000, 30000, true)), Err(Error::ImageTooLarge(_))));
        assert_eq!(check_header(&jpeg_sof(6000, 4000, false)).unwrap().map(|h| h.width), Some(6000));
        let e = check_dimensions(u64::MAX, u64::MAX).unwrap_err();
        assert_eq!(e.code(), "IMAGE_TOO_LARGE");
    }
}
