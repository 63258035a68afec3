//! Model description: architectures decoded from timm block strings, the op list built from them, and timm's config.json.

pub mod arch;
pub mod config;
pub mod ops;
