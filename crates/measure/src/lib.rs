//! kiln-measure: the small measuring vocabulary that `kiln loadtest` and
//! `kiln scaletest` share, so that neither depends on the other.
//!
//! Module map:
//! - [`percentiles`] — [`Percentiles`] of an HdrHistogram, in milliseconds.
//! - [`time`]        — UTC timestamps (RFC 3339, results directory names).
//! - [`duration`]    — `500ms`, `60s`, `1m30s` as written in files.

pub mod duration;
pub mod percentiles;
pub mod time;

pub use percentiles::Percentiles;
