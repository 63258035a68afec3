//! Reading the CLI's input files with the checks done before any byte is read: the path must
//! exist and be a regular file (a directory, `/dev/zero` or a FIFO would read forever or block),
//! and the file must fit its size cap. Native only.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Size caps, far above any MobileNetV3 file (the largest timm checkpoint, 11221 classes, is
/// 57 MB; a 50 Mpx PNG is under 150 MB).
pub const MAX_WEIGHTS_BYTES: u64 = 512 << 20;
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// Read `path` (a `what`: "weights", "config", "image") whole, if it is a regular file of at
/// most `cap` bytes.
pub fn read_capped(path: &Path, what: &str, cap: u64) -> Result<Vec<u8>> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::File(format!("{what} file {shown}: no such file")),
        _ => Error::File(format!("cannot read {what} file {shown}: {e}")),
    })?;
    if meta.is_dir() {
        return Err(Error::File(format!("{what} file {shown} is a directory; give the file itself")));
    }
    if !meta.is_file() {
        return Err(Error::File(format!(
            "{what} file {shown} is not a regular file (a device, pipe or socket); give a file on disk"
        )));
    }
    if meta.len() > cap {
        return Err(too_big(what, &shown.to_string(), meta.len(), cap));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::File(format!("cannot read {what} file {shown}: {e}")))?;
    // The size may change between stat and read: never read more than the cap.
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::File(format!("cannot read {what} file {shown}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_big(what, &shown.to_string(), bytes.len() as u64, cap));
    }
    Ok(bytes)
}

fn too_big(what: &str, shown: &str, len: u64, cap: u64) -> Error {
    let e = format!("{what} file {shown} is {len} bytes, over the {} MiB limit for {what} files", cap >> 20);
    if what == "image" {
        Error::ImageTooLarge(e)
    } else {
        Error::File(e)
    }
}
