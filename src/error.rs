//! One error type for the whole engine. Every variant maps to a stable `code` that the JS runtime
//! surfaces as `error.code`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The safetensors bytes are not a valid file (bad header, truncated, bad dtype or offsets).
    WeightsFormat(String),
    /// A tensor the architecture needs is not in the file.
    MissingTensor { name: String, expected: Vec<usize> },
    /// A tensor has a different shape than the architecture needs.
    ShapeMismatch { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// The architecture name (or a config setting) is not one we implement.
    UnsupportedArch(String),
    /// config.json is not valid JSON or has invalid values.
    Config(String),
    /// Image bytes could not be decoded.
    ImageDecode(String),
    /// Pixels or arguments passed in are unusable (zero-size image, wrong buffer length, ...).
    InvalidInput(String),
    /// The image's header declares more pixels than [`crate::image_header::MAX_IMAGE_PIXELS`]
    /// (or a side above `MAX_IMAGE_SIDE`): refused before decoding.
    ImageTooLarge(String),
    /// Memory for the model (activation arena, input tensor) could not be allocated.
    OutOfMemory(String),
    /// A file could not be read: missing, a directory, not a regular file, over its size cap
    /// (native CLI only; the browser runtime never reads files).
    File(String),
}

impl Error {
    /// Stable machine-readable code (shared with the JS runtime).
    pub fn code(&self) -> &'static str {
        match self {
            Error::WeightsFormat(_) | Error::MissingTensor { .. } | Error::ShapeMismatch { .. } => "WEIGHTS_FORMAT",
            Error::UnsupportedArch(_) => "UNSUPPORTED_ARCH",
            Error::Config(_) => "CONFIG",
            Error::ImageDecode(_) => "IMAGE_DECODE",
            Error::InvalidInput(_) => "INVALID_INPUT",
            Error::ImageTooLarge(_) => "IMAGE_TOO_LARGE",
            Error::OutOfMemory(_) => "OUT_OF_MEMORY",
            Error::File(_) => "FILE_READ",
        }
    }
}

fn shape(s: &[usize]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WeightsFormat(m) => write!(f, "invalid weights file: {m}"),
            Error::MissingTensor { name, expected } => {
                write!(f, "weights file lacks tensor '{name}' (expected shape {})", shape(expected))
            }
            Error::ShapeMismatch { name, expected, found } => write!(
                f,
                "tensor '{name}' has shape {}, expected {} (weights for a different architecture?)",
                shape(found),
                shape(expected)
            ),
            Error::UnsupportedArch(m) => write!(f, "unsupported architecture: {m}"),
            Error::Config(m) => write!(f, "invalid model config: {m}"),
            Error::ImageDecode(m) => write!(f, "cannot decode image: {m}"),
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::ImageTooLarge(m) => write!(f, "image too large: {m}"),
            Error::OutOfMemory(m) => write!(f, "out of memory: {m}"),
            Error::File(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
