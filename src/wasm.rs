//! wasm-bindgen bindings used by the JS runtime's worker (js/src/worker.js). The JS side owns
//! fetching, caching, image decoding and scheduling; this side owns everything numeric.
//!
//! Errors are thrown as JS `Error`s carrying `code` (WEIGHTS_FORMAT, UNSUPPORTED_ARCH, ...).
//! A Rust panic aborts the wasm instance (`unreachable`); its message is kept so the worker can
//! report it (see `last_panic`) and start a fresh instance.

use crate::error::Error;
use crate::kernels::simd::SIMD_BACKEND;
use crate::model::config::ModelConfig;
use crate::preprocess::{PixelLayout, Preprocessor, SourceWindow};
use crate::Classifier;
use js_sys::{Float32Array, Float64Array};
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
    /// `performance.timeOrigin` of whichever worker calls it (each worker's `now()` counts from
    /// its own origin; their sum is one clock for all of them).
    #[wasm_bindgen(thread_local_v2, js_namespace = performance, js_name = timeOrigin)]
    static TIME_ORIGIN: f64;
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

/// Pixel bytes the worker may stage at once (`staging`): its strips are at most 4 MiB.
const MAX_STAGING: usize = 16 << 20;

/// One model, and the one path an image takes through it:
/// `beginImage(w, h)` (returns the source window the crop needs) -> `staging(bytes)` + `pushRows`
/// for each strip of that window -> `finishImage()` (timm's preprocessing, into the input
/// tensor) -> `infer()` -> `topK(k)` / `probabilities()` / `embedding()`. Every buffer
/// (pixel staging, resampling plan for the last image size, input tensor, results) is kept and
/// reused, so a call allocates nothing once sizes repeat.
#[wasm_bindgen]
pub struct Engine {
    clf: Classifier,
    /// Resampling plan of the current (or last) image size.
    image: Option<Preprocessor>,
    /// Pixels written by the worker straight into wasm memory (see `staging`).
    staging: Vec<u8>,
    /// The preprocessed input, size x size x 3 (NHWC).
    input: Vec<f32>,
    /// Whether the last `infer` produced results.
    has_result: bool,
    top: Vec<usize>,
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
        let size = clf.input_size();
        Ok(Engine { clf, image: None, staging: Vec::new(), input: vec![0.0; size * size * 3], has_result: false, top: Vec::new() })
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

    /// Start an image of `width` x `height`. Returns the source window its crop depends on,
    /// `[x0, y0, x1, y1]`: only those pixels need to be pushed.
    #[wasm_bindgen(js_name = beginImage)]
    pub fn begin_image(&mut self, width: usize, height: usize) -> Result<Box<[u32]>, JsValue> {
        match &mut self.image {
            Some(p) if p.source_size() == (width, height) => p.reset(),
            _ => {
                self.image = None;
                self.image = Some(Preprocessor::new(&self.clf.config.preprocess, width, height).map_err(js_error)?);
            }
        }
        let w = self.image.as_ref().map(|p| p.window()).unwrap_or(SourceWindow { x0: 0, y0: 0, x1: 0, y1: 0 });
        Ok(Box::new([w.x0 as u32, w.y0 as u32, w.x1 as u32, w.y1 as u32]))
    }

    /// Address in wasm memory of a staging area of `bytes` bytes for the worker to write pixels
    /// into (valid until the next call into the engine); `pushRows` then reads them.
    pub fn staging(&mut self, bytes: usize) -> Result<usize, JsValue> {
        if bytes > MAX_STAGING {
            return Err(js_error(Error::InvalidInput(format!("a strip of {bytes} bytes; at most {MAX_STAGING} at a time"))));
        }
        if self.staging.len() < bytes {
            let more = bytes - self.staging.len();
            self.staging.try_reserve_exact(more).map_err(|_| js_error(Error::OutOfMemory(format!("no memory for a strip of {bytes} bytes"))))?;
            self.staging.resize(bytes, 0);
        }
        Ok(self.staging.as_mut_ptr() as usize)
    }

    /// Rows `y0..` of the current image from the staging area: 4 bytes per pixel (RGBA/RGBX, or
    /// BGRA/BGRX when `blue_first`), `stride` bytes per row, the first pixel of each row at
    /// source column `x0`; as many rows as the staged bytes hold.
    #[wasm_bindgen(js_name = pushRows)]
    pub fn push_rows(&mut self, y0: usize, x0: usize, stride: usize, bytes: usize, blue_first: bool) -> Result<(), JsValue> {
        let p = self.image.as_mut().ok_or_else(|| js_error(Error::InvalidInput("pushRows before beginImage".into())))?;
        let pixels = self.staging.get(..bytes).ok_or_else(|| js_error(Error::InvalidInput(format!("{bytes} bytes pushed; {} staged", self.staging.len()))))?;
        let layout = if blue_first { PixelLayout::Bgra } else { PixelLayout::Rgba };
        p.push_window_rows(y0, x0, pixels, layout, stride).map_err(js_error)
    }

    /// Finish timm's preprocessing of the image pushed so far, into the input tensor.
    #[wasm_bindgen(js_name = finishImage)]
    pub fn finish_image(&mut self) -> Result<(), JsValue> {
        let p = self.image.as_mut().ok_or_else(|| js_error(Error::InvalidInput("finishImage before beginImage".into())))?;
        p.finish_into(&mut self.input).map_err(js_error)?;
        Ok(())
    }

    /// Run the network on the input tensor (the finished image; zeros before the first one).
    pub fn infer(&mut self) -> Result<(), JsValue> {
        self.has_result = false;
        let size = self.clf.input_size();
        self.clf.run(&self.input, size).map_err(js_error)?;
        self.has_result = true;
        Ok(())
    }

    fn check_result(&self) -> Result<(), JsValue> {
        if self.has_result {
            Ok(())
        } else {
            Err(js_error(Error::InvalidInput("no result yet".into())))
        }
    }

    /// The `k` most probable classes of the last result, most probable first, as pairs
    /// `[index, probability, index, probability, ...]` (labels are the page's, from `info`).
    #[wasm_bindgen(js_name = topK)]
    pub fn top_k(&mut self, k: usize) -> Result<Float64Array, JsValue> {
        self.check_result()?;
        let probs = self.clf.probabilities();
        crate::output::top_indices(probs, k, &mut self.top);
        let out = Float64Array::new_with_length(2 * self.top.len() as u32);
        for (j, &i) in self.top.iter().enumerate() {
            out.set_index(2 * j as u32, i as f64);
            out.set_index(2 * j as u32 + 1, probs[i] as f64);
        }
        Ok(out)
    }

    pub fn logits(&self) -> Result<Float32Array, JsValue> {
        self.check_result()?;
        Ok(Float32Array::from(self.clf.logits()))
    }

    pub fn probabilities(&self) -> Result<Float32Array, JsValue> {
        self.check_result()?;
        Ok(Float32Array::from(self.clf.probabilities()))
    }

    pub fn embedding(&self) -> Result<Float32Array, JsValue> {
        self.check_result()?;
        Ok(Float32Array::from(self.clf.embedding()))
    }

    /// Bytes held by weights and activations.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> usize {
        self.clf.memory_bytes()
    }
}

/// Test and benchmark hooks, kept apart from `Engine`'s image path (the runtime's worker uses
/// only `panic`, for its crash-recovery tests).
#[wasm_bindgen]
pub struct DebugHooks;

#[wasm_bindgen]
impl DebugHooks {
    /// Panics on this thread, or (`in_pool`) on every thread of rayon's pool (in the threaded
    /// build that leaves the caller waiting forever, which the runtime's watchdog must handle).
    pub fn panic(in_pool: bool) {
        if in_pool {
            rayon::broadcast(|_| panic!("debugPanic: forced panic in a pool thread"));
        }
        panic!("debugPanic: forced panic");
    }

    /// A copy of the engine's input tensor (after `finishImage`: the preprocessed image).
    #[wasm_bindgen(js_name = inputTensor)]
    pub fn input_tensor(engine: &Engine) -> Float32Array {
        Float32Array::from(&engine.input[..])
    }

    /// Replace the engine's input tensor (size x size x 3, NHWC) for `infer`.
    #[wasm_bindgen(js_name = setInputTensor)]
    pub fn set_input_tensor(engine: &mut Engine, tensor: &[f32]) -> Result<(), JsValue> {
        if tensor.len() != engine.input.len() {
            return Err(js_error(Error::InvalidInput(format!("{} floats; the input tensor has {}", tensor.len(), engine.input.len()))));
        }
        engine.input.copy_from_slice(tensor);
        Ok(())
    }

    /// Per-step timing of one forward pass on a synthetic input (`Classifier::profile`): JSON
    /// [{name, kind, macs, ms}]. Every team member reads the clock (in the threaded build on
    /// pool workers, hence the imports, not a caller's clock), so it is `timeOrigin + now()`.
    pub fn profile(engine: &mut Engine) -> Result<String, JsValue> {
        let size = engine.clf.input_size();
        let steps = engine.clf.profile(size, || TIME_ORIGIN.with(|o| *o) + performance_now()).map_err(js_error)?;
        Ok(serde_json::to_string(&steps).unwrap_or_default())
    }

    /// The stage trace of one forward pass on a synthetic input (`Classifier::trace_stages`):
    /// JSON {team, call, returned, truncated, stages: [{step, tasks, done, members: [{arrive,
    /// leave, exit, tasks, busy}]}]}, ms from the call (empty stages when it ran alone).
    #[wasm_bindgen(js_name = traceStages)]
    pub fn trace_stages(engine: &mut Engine) -> Result<String, JsValue> {
        let size = engine.clf.input_size();
        let pass = engine.clf.trace_stages(size, || TIME_ORIGIN.with(|o| *o) + performance_now()).map_err(js_error)?;
        Ok(serde_json::to_string(&pass).unwrap_or_default())
    }
}
