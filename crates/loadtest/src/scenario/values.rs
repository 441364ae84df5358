//! The value types of scenario files, checked while they are deserialised
//! (so that `toml` attaches the line and column to an error).

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::corpus::{Complexity, LangGroup};

/// A duration written as `"500ms"`, `"60s"`, `"10m"`, `"1h"` or `"1m30s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(Dur)
    }
}

pub use kiln_measure::duration::parse_duration;

/// A non-negative, finite number (rates, weights, counts).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "f64")]
pub struct NonNeg(pub f64);

impl TryFrom<f64> for NonNeg {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v >= 0.0 {
            Ok(NonNeg(v))
        } else {
            Err(format!("invalid value {v}: must be a finite number >= 0"))
        }
    }
}

/// Open model: arrivals follow a schedule. Closed model: N users loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    #[default]
    Open,
    Closed,
}

/// How arrivals are spaced within the scheduled rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Spacing {
    /// Exponential gaps (a Poisson process), as real traffic arrives.
    #[default]
    Poisson,
    /// Equal gaps.
    Uniform,
}

/// How a submission's final result is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SubmitMode {
    /// `POST …?wait=true` (polling only if the server's wait maximum passes).
    #[default]
    Wait,
    /// `POST` then `GET /api/v1/submissions/{id}` until the status is final.
    Poll,
}

/// A measured quantity a criterion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// % of sent submissions that got the expected verdict and output.
    SuccessRate,
    /// % of sent submissions with an HTTP error, timeout, transport error or `internal_error`.
    ErrorRate,
    /// % of sent submissions answered `compilation_error`.
    CompilationErrorRate,
    P50LatencyS,
    P90LatencyS,
    P95LatencyS,
    P99LatencyS,
    P999LatencyS,
    MaxLatencyS,
    /// Completed submissions per second over the phase.
    AchievedRps,
    /// `code_execution_queue_depth` over the run; use with `op = "stable"`.
    QueueDepth,
}

impl Metric {
    /// Whether this is a latency metric (seconds), and which quantile.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Metric::P50LatencyS => Some(0.50),
            Metric::P90LatencyS => Some(0.90),
            Metric::P95LatencyS => Some(0.95),
            Metric::P99LatencyS => Some(0.99),
            Metric::P999LatencyS => Some(0.999),
            Metric::MaxLatencyS => Some(1.0),
            _ => None,
        }
    }
}

/// Comparison of a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    /// The value does not grow over the run (linear trend test).
    #[serde(rename = "stable")]
    Stable,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Stable => "stable",
        }
    }
    pub fn holds(self, measured: f64, target: f64) -> bool {
        match self {
            Op::Lt => measured < target,
            Op::Le => measured <= target,
            Op::Gt => measured > target,
            Op::Ge => measured >= target,
            Op::Stable => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
    }
}
