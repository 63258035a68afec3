//! # mobilenetv3-wasm
//!
//! timm's MobileNetV3 family as a hand-written forward pass: NHWC kernels with SIMD128 on wasm
//! (SSE2 natively), rayon parallelism, timm's own safetensors + config.json loaded directly with
//! batch norm folded at load time, and timm's eval preprocessing reproduced bit for bit.
//!
//! ```no_run
//! use mobilenetv3_wasm::{Classifier, ModelConfig};
//! let weights = std::fs::read("model.safetensors").unwrap();
//! let config = ModelConfig::from_json(&std::fs::read_to_string("config.json").unwrap()).unwrap();
//! let mut clf = Classifier::new(&weights, config).unwrap();
//! let rgb = vec![128u8; 640 * 480 * 3];
//! let pred = clf.classify_pixels(&rgb, 640, 480, 3).unwrap();
//! println!("{:?}", pred.top(5));
//! ```

pub mod error;
pub mod image_header;
pub mod kernels;
pub mod labels;
pub mod model;
pub mod network;
pub mod output;
pub mod preprocess;
pub mod weights;

#[cfg(not(target_arch = "wasm32"))]
pub mod files;
#[cfg(not(target_arch = "wasm32"))]
pub mod image_io;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[doc(hidden)]
pub mod fuzz_entry;
#[doc(hidden)]
pub mod testutil;

pub use error::{Error, Result};
pub use model::config::{Interpolation, ModelConfig, PreprocessConfig};
pub use output::TopClass;

use model::ops::Buf;
use network::{Network, Scratch};

/// A loaded model plus its reusable activation arena.
pub struct Classifier {
    pub config: ModelConfig,
    pub network: Network,
    labels: std::sync::Arc<Vec<String>>,
    scratch: Scratch,
    /// Softmax of the last pass (reused across calls).
    probabilities: Vec<f32>,
}

/// The deterministic input of benchmarks and profiles: `size` x `size` x 3 values in [-1, 1].
pub fn synthetic_input(size: usize) -> Vec<f32> {
    (0..size * size * 3).map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0).collect()
}

/// Result of one forward pass.
#[derive(Clone, Debug)]
pub struct Prediction {
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
    /// Pooled pre-classifier features (timm's `pre_logits`).
    pub embedding: Vec<f32>,
    labels: std::sync::Arc<Vec<String>>,
}

impl Prediction {
    pub fn top(&self, k: usize) -> Vec<TopClass> {
        output::top_k(&self.probabilities, &self.labels, k)
    }
}

impl Classifier {
    /// Load timm safetensors bytes for the architecture in `config`.
    pub fn new(weights: &[u8], config: ModelConfig) -> Result<Classifier> {
        let spec = config.net_spec()?;
        let network = weights::load_network(&spec, weights)?;
        let labels = std::sync::Arc::new(config.labels.clone());
        let mut clf = Classifier { config, network, labels, scratch: Scratch::default(), probabilities: Vec::new() };
        clf.warm_up()?;
        Ok(clf)
    }

    /// Allocate what classifying needs now (the arena and an input tensor, fallibly: a model
    /// that does not fit is OUT_OF_MEMORY at load, not a crash at the first image) and run one
    /// pass on the mean image, so that weights whose activations overflow are refused at load.
    fn warm_up(&mut self) -> Result<()> {
        let size = self.input_size();
        self.network.try_reserve(&mut self.scratch, size, size)?;
        let mut input: Vec<f32> = Vec::new();
        input.try_reserve_exact(size * size * 3).map_err(|_| {
            Error::OutOfMemory(format!("the {size}x{size} input tensor does not fit in memory; use a smaller input_size"))
        })?;
        input.resize(size * size * 3, 0.0);
        self.run(&input, size)
    }

    /// Input side length from the config (e.g. 224).
    pub fn input_size(&self) -> usize {
        self.config.preprocess.input_size
    }

    /// Forward pass on a preprocessed NHWC tensor of `size` x `size` x 3.
    pub fn forward(&mut self, input: &[f32], size: usize) -> Result<Prediction> {
        self.run(input, size)?;
        Ok(Prediction {
            probabilities: self.probabilities.clone(),
            logits: self.logits().to_vec(),
            embedding: self.embedding().to_vec(),
            labels: self.labels.clone(),
        })
    }

    /// `forward` without allocating: the results stay here, read by `logits`, `embedding` and
    /// `probabilities` until the next pass.
    pub fn run(&mut self, input: &[f32], size: usize) -> Result<()> {
        let (lo, hi) = model::config::INPUT_SIZE_RANGE;
        if !(lo..=hi).contains(&size) || input.len() != size * size * 3 {
            return Err(Error::InvalidInput(format!("expected a {size}x{size}x3 tensor ({lo} <= size <= {hi}), got {} floats", input.len())));
        }
        // Chunks without an early exit inside vectorize; the index is searched only on failure.
        let finite = |c: &[f32]| c.iter().fold(true, |ok, x| ok & x.is_finite());
        if !input.chunks(256).all(finite) {
            let i = input.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(Error::InvalidInput(format!("input tensor holds {} at index {i}; it must be finite", input[i])));
        }
        self.network.try_reserve(&mut self.scratch, size, size)?;
        self.network.forward(input, size, size, &mut self.scratch);
        if self.logits().iter().chain(self.embedding()).any(|x| !x.is_finite()) {
            // Finite weights can still overflow f32 in the activations; never report NaN as a class.
            return Err(Error::WeightsFormat("the network produced non-finite logits (NaN or infinity): the weights' values are out of range".into()));
        }
        let logits = &self.scratch.buf(Buf::Logits)[..self.network.spec.num_classes];
        output::softmax_into(logits, &mut self.probabilities);
        Ok(())
    }

    /// Logits of the last pass.
    pub fn logits(&self) -> &[f32] {
        &self.scratch.buf(Buf::Logits)[..self.network.spec.num_classes]
    }

    /// Pooled pre-classifier features of the last pass (timm's `pre_logits`).
    pub fn embedding(&self) -> &[f32] {
        &self.scratch.buf(Buf::Embedding)[..self.network.spec.head_chs]
    }

    /// Softmax of the last pass's logits.
    pub fn probabilities(&self) -> &[f32] {
        &self.probabilities
    }

    /// Per-step times of one forward pass at `size` x `size` on `synthetic_input` (run a pass
    /// first so that the first step's time is not a cold start): the profile of the CLI's
    /// `bench --profile` and of the browser benchmark. `now` is a clock in milliseconds, called
    /// on every team member at once (one origin for all threads).
    pub fn profile(&mut self, size: usize, now: impl Fn() -> f64 + Sync) -> Result<Vec<network::StepTime>> {
        let input = synthetic_input(size);
        self.network.try_reserve(&mut self.scratch, size, size)?;
        Ok(self.network.profile(&input, size, size, &mut self.scratch, now))
    }

    /// The stage trace of one forward pass at `size` x `size` on `synthetic_input`
    /// ([`network::Network::trace_stages`]; run a pass first so that it is warm).
    pub fn trace_stages(&mut self, size: usize, clock: fn() -> f64) -> Result<kernels::parallel::trace::Pass> {
        let input = synthetic_input(size);
        self.network.try_reserve(&mut self.scratch, size, size)?;
        Ok(self.network.trace_stages(&input, size, size, &mut self.scratch, clock))
    }

    /// timm preprocessing + forward on RGB (3) or RGBA (4) pixels of any size.
    pub fn classify_pixels(&mut self, pixels: &[u8], width: usize, height: usize, channels: usize) -> Result<Prediction> {
        let input = preprocess::preprocess(&self.config.preprocess, pixels, width, height, channels)?;
        let size = self.input_size();
        self.forward(&input, size)
    }

    /// Threads that ran the last forward pass.
    pub fn last_team_size(&self) -> usize {
        self.scratch.team_size
    }

    /// Bytes of packed weights plus the activation arena.
    pub fn memory_bytes(&self) -> usize {
        self.network.param_bytes() + self.scratch.bytes()
    }
}
