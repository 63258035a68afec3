//! Compute kernels over NHWC f32 activations. Each family has a plain reference implementation
//! beside its fast (SIMD, threaded) one, and unit tests holding the fast one to the reference.

pub mod activation;
pub mod attention;
pub mod conv2d;
pub mod depthwise;
pub mod geometry;
pub mod parallel;
pub mod pointwise;
pub mod pool;
pub mod simd;
pub mod squeeze_excite;

pub use activation::Act;
pub use geometry::{ConvGeometry, Padding};
