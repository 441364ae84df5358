//! kiln-engine (being written): see docs/engine-api.md.
pub mod types;
pub use types::*;
