//! Latency percentiles from HdrHistograms, as the reports show them.

use hdrhistogram::Histogram;
use serde::Serialize;

/// The percentiles the reports show, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn of_us(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            min_ms: h.min() as f64 / 1000.0,
            mean_ms: h.mean() / 1000.0,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
    /// From a histogram of milliseconds.
    pub fn of_ms(h: &Histogram<u32>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |x: f64| h.value_at_quantile(x) as f64;
        Percentiles {
            count: h.len(),
            min_ms: h.min() as f64,
            mean_ms: h.mean(),
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: h.max() as f64,
        }
    }
    /// The value of a quantile in 0..=1 (1 = max), from the fixed set.
    pub fn at(&self, quantile: f64) -> f64 {
        match quantile {
            q if q >= 1.0 => self.max_ms,
            q if q >= 0.999 => self.p999_ms,
            q if q >= 0.99 => self.p99_ms,
            q if q >= 0.95 => self.p95_ms,
            q if q >= 0.90 => self.p90_ms,
            _ => self.p50_ms,
        }
    }
}
