//! Model description: architectures decoded from timm block strings, and timm's config.json.

pub mod arch;
pub mod config;
