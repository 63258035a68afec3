//! wasm-bindgen bindings used by the JS runtime's worker (js/src/worker.js). The JS side owns
//! fetching, caching, image decoding and scheduling; this side owns everything numeric.
//!
//! Errors are thrown as JS `Error`s carrying `code` (WEIGHTS_FORMAT, UNSUPPORTED_ARCH, ...).
//! A Rust panic aborts the wasm instance (`unreachable`); its message is kept so the worker can
//! report it (see `last_panic`) and start a fresh instance.

use crate::error::Error;
use crate::kernels::simd::SIMD_BACKEND;
use crate::model::config::ModelConfig;
use crate::preprocess::Preprocessor;
use crate::{Classifier, Prediction};
use js_sys::Float32Array;
use std::sync::Mutex;
use wasm_bindgen::prelude::*;

#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen]
extern "C" {
    /// `performance.now()` of whichever worker calls it.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = Some(info.to_string());
        }
        console_error_panic_hook::hook(info);
    }));
}

/// Message of the last Rust panic in this instance, if any.
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|p| p.clone())
}

/// "threaded" or "single": which build this is.
#[wasm_bindgen(js_name = buildKind)]
pub fn build_kind() -> String {
    if cfg!(feature = "threads") { "threaded" } else { "single" }.into()
}

/// Threads a forward pass uses: rayon's pool, capped by `setThreadLimit` (1 in the single build).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    crate::kernels::parallel::team_threads()
}

/// Use at most `n` pool threads per forward pass (0: all); for the runtime's 'auto' threads.
#[wasm_bindgen(js_name = setThreadLimit)]
pub fn set_thread_limit(n: usize) {
    crate::kernels::parallel::set_team_limit(n)
}

/// Test hook for the runtime's crash recovery: panics on this thread, or (`in_pool`) on every
/// thread of rayon's pool (in the threaded build that leaves the caller waiting forever, which
/// the runtime's watchdog must handle).
#[wasm_bindgen(js_name = debugPanic)]
pub fn debug_panic(in_pool: bool) {
    if in_pool {
        rayon::broadcast(|_| panic!("debugPanic: forced panic in a pool thread"));
    }
    panic!("debugPanic: forced panic");
}

/// What an image file's header declares, read without decoding: `{format, width, height}`
/// ("jpeg", "png", "gif", "bmp", "tiff", "webp"), or `undefined` for other formats. Throws
/// IMAGE_TOO_LARGE when the size is over `maxImagePixels()` (or 32768 per side), so the worker
/// can refuse a decompression bomb before `createImageBitmap` decodes it.
#[wasm_bindgen(js_name = imageHeader)]
pub fn image_header(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let Some(h) = crate::image_header::check_header(bytes).map_err(js_error)? else { return Ok(JsValue::UNDEFINED) };
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"format".into(), &h.format.into());
    let _ = js_sys::Reflect::set(&o, &"width".into(), &(h.width as f64).into());
    let _ = js_sys::Reflect::set(&o, &"height".into(), &(h.height as f64).into());
    Ok(o.into())
}

/// The pixel limit (`crate::image_header::MAX_IMAGE_PIXELS`, 8192 x 8192).
#[wasm_bindgen(js_name = maxImagePixels)]
pub fn max_image_pixels() -> f64 {
    crate::image_header::MAX_IMAGE_PIXELS as f64
}

fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

#[wasm_bindgen]
pub struct Engine {
    clf: Classifier,
    pending: Option<Preprocessor>,
    /// Preprocessed tensor waiting for `runImage` (see `preprocess`).
    input: Option<Vec<f32>>,
    last: Option<Prediction>,
}

#[wasm_bindgen]
impl Engine {
    /// Load timm safetensors bytes with a timm config.json (text). An empty config uses the
    /// defaults of `architecture`.
    #[wasm_bindgen(constructor)]
    pub fn new(weights: &[u8], config_json: &str, architecture: &str) -> Result<Engine, JsValue> {
        let config = if config_json.trim().is_empty() {
            ModelConfig::for_architecture(architecture)
        } else {
            ModelConfig::from_json(config_json)
        }
        .map_err(js_error)?;
        let clf = Classifier::new(weights, config).map_err(js_error)?;
        Ok(Engine { clf, pending: None, input: None, last: None })
    }

    /// JSON: architecture, numClasses, inputSize, embeddingSize, labels, simd, memory.
    pub fn info(&self) -> String {
        let c = &self.clf.config;
        let spec = &self.clf.network.spec;
        serde_json::json!({
            "architecture": spec.name,
            "numClasses": spec.num_classes,
            "inputSize": c.preprocess.input_size,
            "embeddingSize": spec.head_chs,
            "labels": c.labels,
            "simd": SIMD_BACKEND,
            "paramBytes": self.clf.network.param_bytes(),
            "macs": self.clf.network.ops.macs(c.preprocess.input_size, c.preprocess.input_size),
        })
        .to_string()
    }

    /// Start an image of `width` x `height`; rows then arrive through `push_rows`.
    #[wasm_bindgen(js_name = beginImage)]
    pub fn begin_image(&mut self, width: usize, height: usize) -> Result<(), JsValue> {
        self.pending = None;
        self.input = None;
        self.pending = Some(Preprocessor::new(&self.clf.config.preprocess, width, height).map_err(js_error)?);
        Ok(())
    }

    /// Rows `y0..` of the current image, RGBA (channels = 4) or RGB (3), `stride` bytes per row.
    #[wasm_bindgen(js_name = pushRows)]
    pub fn push_rows(&mut self, y0: usize, pixels: &[u8], channels: usize, stride: usize) -> Result<(), JsValue> {
        let p = self.pending.as_mut().ok_or_else(|| js_error(Error::InvalidInput("pushRows before beginImage".into())))?;
        p.push_rows(y0, pixels, channels, stride).map_err(js_error)
    }

    /// Finish timm's preprocessing of the image fed so far; `runImage` then runs the network on
    /// it. (Separate so the caller can time the two stages; `runImage` alone does both.)
    pub fn preprocess(&mut self) -> Result<(), JsValue> {
        let p = self.pending.take().ok_or_else(|| js_error(Error::InvalidInput("preprocess before beginImage".into())))?;
        self.input = Some(p.finish().map_err(js_error)?);
        Ok(())
    }

    /// Preprocess the image fed so far (unless `preprocess` did) and run the network.
    #[wasm_bindgen(js_name = runImage)]
    pub fn run_image(&mut self) -> Result<(), JsValue> {
        if self.pending.is_some() {
            self.preprocess()?;
        }
        let input = self.input.take().ok_or_else(|| js_error(Error::InvalidInput("runImage before beginImage".into())))?;
        let size = self.clf.input_size();
        self.last = Some(self.clf.forward(&input, size).map_err(js_error)?);
        Ok(())
    }

    /// Run the network on an already preprocessed NHWC tensor (size x size x 3).
    #[wasm_bindgen(js_name = runTensor)]
    pub fn run_tensor(&mut self, input: &[f32], size: usize) -> Result<(), JsValue> {
        self.last = Some(self.clf.forward(input, size).map_err(js_error)?);
        Ok(())
    }

    /// The preprocessed tensor of the pending image (for tests), without running the network.
    #[wasm_bindgen(js_name = preprocessPending)]
    pub fn preprocess_pending(&mut self) -> Result<Float32Array, JsValue> {
        let p = self.pending.take().ok_or_else(|| js_error(Error::InvalidInput("no pending image".into())))?;
        Ok(Float32Array::from(&p.finish().map_err(js_error)?[..]))
    }

    fn last(&self) -> Result<&Prediction, JsValue> {
        self.last.as_ref().ok_or_else(|| js_error(Error::InvalidInput("no result yet".into())))
    }

    pub fn logits(&self) -> Result<Float32Array, JsValue> {
        Ok(Float32Array::from(&self.last()?.logits[..]))
    }

    pub fn probabilities(&self) -> Result<Float32Array, JsValue> {
        Ok(Float32Array::from(&self.last()?.probabilities[..]))
    }

    pub fn embedding(&self) -> Result<Float32Array, JsValue> {
        Ok(Float32Array::from(&self.last()?.embedding[..]))
    }

    /// JSON array of {index, label, probability} for the last result.
    #[wasm_bindgen(js_name = topK)]
    pub fn top_k(&self, k: usize) -> Result<String, JsValue> {
        Ok(serde_json::to_string(&self.last()?.top(k)).unwrap_or_default())
    }

    /// Per-step timing of one forward pass on a synthetic input: JSON [{name, kind, macs, ms}].
    /// Timed with `performance.now()` on the thread that records the events (in the threaded
    /// build that is a pool worker, hence the import rather than a caller-supplied clock).
    pub fn profile(&mut self) -> Result<String, JsValue> {
        let size = self.clf.input_size();
        let input: Vec<f32> = (0..size * size * 3).map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0).collect();
        let mut scratch = crate::network::Scratch::default();
        self.clf.network.forward(&input, size, size, &mut scratch);
        let steps = self.clf.network.profile(&input, size, size, &mut scratch, performance_now);
        Ok(serde_json::to_string(&steps).unwrap_or_default())
    }

    /// Bytes held by weights and activations.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> usize {
        self.clf.memory_bytes()
    }
}
