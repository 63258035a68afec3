//! Image files -> RGB pixels for the native CLI and tests, decoded the way timm's loader does
//! (`PIL.Image.open(f).convert('RGB')`): JPEG through libjpeg-turbo's decoder (the mozjpeg fork,
//! which decodes byte-identically to Pillow's libjpeg-turbo), other formats through the `image`
//! crate. No EXIF rotation, as in timm. Not compiled into the wasm: browsers decode themselves.

use crate::error::{Error, Result};
use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;

/// Decoded RGB image.
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

pub fn open(path: &Path) -> Result<RgbImage> {
    let bytes = crate::files::read_capped(path, "image", crate::files::MAX_IMAGE_FILE_BYTES)?;
    decode(&bytes).map_err(|e| match e {
        Error::ImageDecode(m) => Error::ImageDecode(format!("{}: {m}", path.display())),
        Error::ImageTooLarge(m) => Error::ImageTooLarge(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Decode after checking the declared size against [`MAX_IMAGE_PIXELS`](crate::image_header::MAX_IMAGE_PIXELS).
pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
    crate::image_header::check_header(bytes)?;
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(bytes);
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::ImageDecode(e.to_string()))?;
    // Backstop for what the header reader does not see (GIF frames, exotic TIFFs): the sides,
    // and the decoder's own buffer (16-bit RGBA at the pixel limit, with margin).
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(crate::image_header::MAX_IMAGE_SIDE as u32);
    limits.max_image_height = Some(crate::image_header::MAX_IMAGE_SIDE as u32);
    limits.max_alloc = Some(crate::image_header::MAX_IMAGE_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => Error::ImageTooLarge(format!("the decoder needs more memory than allowed ({l})")),
        e => Error::ImageDecode(e.to_string()),
    })?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    crate::image_header::check_dimensions(width as u64, height as u64)?;
    // Convert in place where the layout allows (no second full-size buffer).
    let pixels = match img {
        image::DynamicImage::ImageRgb8(b) => b.into_raw(),
        image::DynamicImage::ImageRgba8(b) => rgba_to_rgb_in_place(b.into_raw()),
        image::DynamicImage::ImageLuma8(b) => gray_to_rgb_in_place(b.into_raw(), 1),
        image::DynamicImage::ImageLumaA8(b) => gray_to_rgb_in_place(b.into_raw(), 2),
        other => other.to_rgb8().into_raw(),
    };
    Ok(RgbImage { width, height, pixels })
}

/// RGBA -> RGB within the same allocation (each write lands at or before its read).
fn rgba_to_rgb_in_place(mut px: Vec<u8>) -> Vec<u8> {
    let n = px.len() / 4;
    for i in 0..n {
        px.copy_within(4 * i..4 * i + 3, 3 * i);
    }
    px.truncate(3 * n);
    px
}

/// Gray (`step` 1) or gray + alpha (`step` 2) -> RGB, grown in place and filled back to front.
fn gray_to_rgb_in_place(mut px: Vec<u8>, step: usize) -> Vec<u8> {
    let n = px.len() / step;
    px.resize(3 * n, 0);
    for i in (0..n).rev() {
        let g = px[step * i];
        px[3 * i..3 * i + 3].fill(g);
    }
    px
}

thread_local! {
    static JPEG_EOF: Cell<bool> = const { Cell::new(false) };
}

extern "C-unwind" fn jpeg_message(cinfo: &mut mozjpeg_sys::jpeg_common_struct, level: c_int) {
    // SAFETY: libjpeg always passes a cinfo whose err points at our error manager.
    let code = unsafe { (*cinfo.err).msg_code };
    if level < 0 && code == mozjpeg_sys::JWRN_JPEG_EOF as c_int {
        JPEG_EOF.with(|f| f.set(true));
    }
}

/// libjpeg's own text for the current message ("Corrupt JPEG data: ...", "Bogus marker length").
fn jpeg_text(cinfo: &mut mozjpeg_sys::jpeg_common_struct) -> String {
    // SAFETY: as above; format_message writes at most JMSG_LENGTH_MAX (80) bytes into the buffer
    // (the binding declares it `&[u8; 80]` though libjpeg writes through it, hence the cast).
    unsafe {
        let err = &*cinfo.err;
        match err.format_message {
            Some(f) => {
                let mut buf = [0u8; 80];
                let f: unsafe extern "C-unwind" fn(&mut mozjpeg_sys::jpeg_common_struct, &mut [u8; 80]) = std::mem::transmute(f);
                f(cinfo, &mut buf);
                let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
                String::from_utf8_lossy(&buf[..end]).into_owned()
            }
            None => format!("libjpeg error {}", err.msg_code),
        }
    }
}

extern "C-unwind" fn jpeg_error(cinfo: &mut mozjpeg_sys::jpeg_common_struct) {
    let text = jpeg_text(cinfo);
    std::panic::resume_unwind(Box::new(text));
}

fn jpeg_eof() -> bool {
    JPEG_EOF.with(|f| f.get())
}

/// Rows decoded per read, so that a truncated file stops after the strip that ran out of data
/// instead of after allocating the whole declared image.
const JPEG_STRIP_ROWS: usize = 64;

fn read_jpeg<R: std::io::BufRead>(s: &mut mozjpeg::decompress::DecompressStarted<R>, channels: usize) -> std::io::Result<Vec<u8>> {
    let (w, h) = (s.width(), s.height());
    let row = w * channels;
    let mut px = Vec::new();
    let mut y = 0;
    while y < h && !jpeg_eof() {
        let n = JPEG_STRIP_ROWS.min(h - y);
        let at = px.len();
        px.try_reserve(n * row).map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
        px.resize(at + n * row, 0);
        s.read_scanlines_into::<u8>(&mut px[at..])?;
        y += n;
    }
    Ok(px)
}

fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage> {
    JPEG_EOF.with(|f| f.set(false));
    // libjpeg reports fatal errors by unwinding out of the decoder (mozjpeg's convention).
    let run = std::panic::catch_unwind(|| -> std::io::Result<Option<RgbImage>> {
        // SAFETY: a zeroed jpeg_error_mgr is what jpeg_std_error expects to fill in.
        let mut err: mozjpeg_sys::jpeg_error_mgr = unsafe { std::mem::zeroed() };
        unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
        err.error_exit = Some(jpeg_error);
        err.emit_message = Some(jpeg_message);
        let d = mozjpeg::Decompress::with_err(err).from_mem(bytes)?;
        let (width, height) = (d.width(), d.height());
        crate::image_header::check_dimensions(width as u64, height as u64).map_err(std::io::Error::other)?;
        let pixels = match d.image()? {
            mozjpeg::Format::RGB(mut s) => {
                let px = read_jpeg(&mut s, 3)?;
                if jpeg_eof() {
                    return Ok(None);
                }
                s.finish()?;
                px
            }
            mozjpeg::Format::Gray(mut s) => {
                let px = read_jpeg(&mut s, 1)?;
                if jpeg_eof() {
                    return Ok(None);
                }
                s.finish()?;
                gray_to_rgb_in_place(px, 1)
            }
            mozjpeg::Format::CMYK(mut s) => {
                let px = read_jpeg(&mut s, 4)?;
                if jpeg_eof() {
                    return Ok(None);
                }
                s.finish()?;
                cmyk_to_rgb(px)
            }
        };
        Ok(Some(RgbImage { width, height, pixels }))
    });
    let img = match run {
        Ok(Ok(Some(img))) if !jpeg_eof() => img,
        // Pillow raises "image file is truncated" here rather than inventing gray pixels.
        Ok(Ok(_)) => return Err(Error::ImageDecode("JPEG file is truncated".into())),
        Ok(Err(e)) => {
            if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                return Err(inner.clone());
            }
            return Err(Error::ImageDecode(format!("invalid JPEG: {e}")));
        }
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().unwrap_or_else(|| "corrupt data".into());
            return Err(Error::ImageDecode(format!("invalid JPEG: {msg}")));
        }
    };
    if img.pixels.len() != img.width * img.height * 3 {
        return Err(Error::ImageDecode("JPEG decoded to an unexpected number of pixels".into()));
    }
    Ok(img)
}

/// Pillow's CMYK -> RGB for (Adobe, inverted) CMYK JPEGs: rawmode "CMYK;I" then `cmyk2rgb`.
/// Converted within the same allocation.
fn cmyk_to_rgb(mut px: Vec<u8>) -> Vec<u8> {
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    let n = px.len() / 4;
    for i in 0..n {
        let p = &px[4 * i..4 * i + 4];
        let [c, m, y, k] = [255 - p[0] as i32, 255 - p[1] as i32, 255 - p[2] as i32, 255 - p[3] as i32];
        let nk = 255 - k;
        let rgb = [c, m, y].map(|v| (nk - muldiv255(v, nk)).clamp(0, 255) as u8);
        px[3 * i..3 * i + 3].copy_from_slice(&rgb);
    }
    px.truncate(3 * n);
    px
}
