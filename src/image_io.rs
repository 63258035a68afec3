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
    let bytes = std::fs::read(path).map_err(|e| Error::ImageDecode(format!("{}: {e}", path.display())))?;
    decode(&bytes).map_err(|e| match e {
        Error::ImageDecode(m) => Error::ImageDecode(format!("{}: {m}", path.display())),
        other => other,
    })
}

pub fn decode(bytes: &[u8]) -> Result<RgbImage> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(bytes);
    }
    let img = image::load_from_memory(bytes).map_err(|e| Error::ImageDecode(e.to_string()))?;
    let rgb = img.to_rgb8();
    Ok(RgbImage { width: rgb.width() as usize, height: rgb.height() as usize, pixels: rgb.into_raw() })
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

extern "C-unwind" fn jpeg_error(cinfo: &mut mozjpeg_sys::jpeg_common_struct) {
    let code = unsafe { (*cinfo.err).msg_code };
    std::panic::resume_unwind(Box::new(format!("libjpeg error {code}")));
}

fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage> {
    JPEG_EOF.with(|f| f.set(false));
    // libjpeg reports fatal errors by unwinding out of the decoder (mozjpeg's convention).
    let run = std::panic::catch_unwind(|| -> std::io::Result<RgbImage> {
        // SAFETY: a zeroed jpeg_error_mgr is what jpeg_std_error expects to fill in.
        let mut err: mozjpeg_sys::jpeg_error_mgr = unsafe { std::mem::zeroed() };
        unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
        err.error_exit = Some(jpeg_error);
        err.emit_message = Some(jpeg_message);
        let d = mozjpeg::Decompress::with_err(err).from_mem(bytes)?;
        let (width, height) = (d.width(), d.height());
        let pixels = match d.image()? {
            mozjpeg::Format::RGB(mut s) => {
                let px = s.read_scanlines::<u8>()?;
                s.finish()?;
                px
            }
            mozjpeg::Format::Gray(mut s) => {
                let px: Vec<u8> = s.read_scanlines::<u8>()?;
                s.finish()?;
                px.iter().flat_map(|&g| [g, g, g]).collect()
            }
            mozjpeg::Format::CMYK(mut s) => {
                let px: Vec<u8> = s.read_scanlines::<u8>()?;
                s.finish()?;
                cmyk_to_rgb(&px)
            }
        };
        Ok(RgbImage { width, height, pixels })
    });
    let img = match run {
        Ok(Ok(img)) => img,
        Ok(Err(e)) => return Err(Error::ImageDecode(format!("invalid JPEG: {e}"))),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().unwrap_or_else(|| "corrupt data".into());
            return Err(Error::ImageDecode(format!("invalid JPEG: {msg}")));
        }
    };
    if JPEG_EOF.with(|f| f.get()) {
        // Pillow raises "image file is truncated" here rather than inventing gray pixels.
        return Err(Error::ImageDecode("JPEG file is truncated".into()));
    }
    if img.pixels.len() != img.width * img.height * 3 {
        return Err(Error::ImageDecode("JPEG decoded to an unexpected number of pixels".into()));
    }
    Ok(img)
}

/// Pillow's CMYK -> RGB for (Adobe, inverted) CMYK JPEGs: rawmode "CMYK;I" then `cmyk2rgb`.
fn cmyk_to_rgb(px: &[u8]) -> Vec<u8> {
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    px.chunks_exact(4)
        .flat_map(|p| {
            let [c, m, y, k] = [255 - p[0] as i32, 255 - p[1] as i32, 255 - p[2] as i32, 255 - p[3] as i32];
            let nk = 255 - k;
            [c, m, y].map(|v| (nk - muldiv255(v, nk)).clamp(0, 255) as u8)
        })
        .collect()
}
