//! Sampling the target's `/metrics` (Prometheus text) during a run, and
//! judging queue growth by a linear trend over the whole run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Method;
use serde::{Deserialize, Serialize};

use crate::client::ApiClient;

/// One scrape.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct MetricSample {
    /// Seconds since the phase started.
    pub t: f64,
    pub queue_depth: Option<f64>,
    pub active_jobs: Option<f64>,
    pub workers: Option<f64>,
}

/// Sum of all series of `name` (any labels) in a Prometheus text exposition.
pub fn gauge(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || !line.starts_with(name) {
            continue;
        }
        let rest = &line[name.len()..];
        let value_part = if let Some(r) = rest.strip_prefix('{') {
            match r.find('}') {
                Some(i) => &r[i + 1..],
                None => continue,
            }
        } else if rest.starts_with(' ') {
            rest
        } else {
            continue; // another metric with this prefix
        };
        if let Some(v) = value_part
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

/// Parses the three gauges of the plan.
pub fn parse_sample(text: &str, t: f64) -> MetricSample {
    MetricSample {
        t,
        queue_depth: gauge(text, "code_execution_queue_depth"),
        active_jobs: gauge(text, "code_execution_active_jobs"),
        workers: gauge(text, "code_execution_workers"),
    }
}

/// Scrapes `/metrics` every `every` until `stop` is set; samples go to `out`.
pub async fn sample_loop(
    client: ApiClient,
    start: Instant,
    every: Duration,
    out: Arc<Mutex<Vec<MetricSample>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let t = start.elapsed().as_secs_f64();
        let scrape = tokio::time::timeout(
            every.max(Duration::from_secs(1)),
            client.request(Method::GET, "/metrics", None),
        );
        if let Ok(Ok((status, body))) = scrape.await {
            if status.is_success() {
                let s = parse_sample(&String::from_utf8_lossy(&body), t);
                out.lock().expect("metrics lock").push(s);
            }
        }
    }
}

/// Least-squares line through (x, y) points.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Trend {
    /// Change of y per second.
    pub slope: f64,
    /// slope / standard error; |t| > 3 is a clear trend.
    pub t_stat: f64,
    pub points: usize,
}

pub fn trend(points: &[(f64, f64)]) -> Option<Trend> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let sse: f64 = points
        .iter()
        .map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2))
        .sum();
    let se = (sse / (nf - 2.0) / sxx).sqrt();
    let t_stat = if se > 0.0 {
        slope / se
    } else if slope == 0.0 {
        0.0
    } else {
        f64::INFINITY * slope.signum()
    };
    Some(Trend {
        slope,
        t_stat,
        points: n,
    })
}

/// What the queue did over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueAnalysis {
    pub samples: usize,
    pub mean_depth: Option<f64>,
    pub max_depth: Option<f64>,
    pub trend: Option<Trend>,
    /// Growth over the run predicted by the trend (slope × duration).
    pub growth_over_run: Option<f64>,
    /// A clear upward trend (t > 3) adding more than 5 jobs over the run.
    pub growing: bool,
    /// Growing, and faster in the second half than twice the first half.
    pub accelerating: bool,
    pub min_workers: Option<f64>,
    pub max_workers: Option<f64>,
    /// The workers gauge went down during the run (crash / restart).
    pub workers_dropped: bool,
    /// Mean of active_jobs / workers.
    pub mean_utilization: Option<f64>,
    pub max_utilization: Option<f64>,
}

pub fn analyse(samples: &[MetricSample]) -> QueueAnalysis {
    let depth: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((s.t, s.queue_depth?)))
        .collect();
    let tr = trend(&depth);
    let span = match (depth.first(), depth.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0.0,
    };
    let growth = tr.map(|t| t.slope * span);
    let growing = matches!((tr, growth), (Some(t), Some(g)) if t.t_stat > 3.0 && g > 5.0);
    let half = depth.len() / 2;
    let accelerating = growing
        && match (trend(&depth[..half]), trend(&depth[half..])) {
            (Some(a), Some(b)) => b.slope > 2.0 * a.slope.max(0.0) && b.slope > 0.0,
            _ => false,
        };
    let workers: Vec<f64> = samples.iter().filter_map(|s| s.workers).collect();
    let workers_dropped = workers.windows(2).any(|w| w[1] < w[0]);
    let util: Vec<f64> = samples
        .iter()
        .filter_map(|s| match (s.active_jobs, s.workers) {
            (Some(a), Some(w)) if w > 0.0 => Some(a / w),
            _ => None,
        })
        .collect();
    let fold = |v: &[f64], f: fn(f64, f64) -> f64| v.iter().copied().reduce(f);
    QueueAnalysis {
        samples: depth.len(),
        mean_depth: (!depth.is_empty())
            .then(|| depth.iter().map(|p| p.1).sum::<f64>() / depth.len() as f64),
        max_depth: depth.iter().map(|p| p.1).reduce(f64::max),
        trend: tr,
        growth_over_run: growth,
        growing,
        accelerating,
        min_workers: fold(&workers, f64::min),
        max_workers: fold(&workers, f64::max),
        workers_dropped,
        mean_utilization: (!util.is_empty()).then(|| util.iter().sum::<f64>() / util.len() as f64),
        max_utilization: fold(&util, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP code_execution_queue_depth Jobs waiting\n\
        # TYPE code_execution_queue_depth gauge\n\
        code_execution_queue_depth 7\n\
        code_execution_queue_depth_extra 100\n\
        code_execution_active_jobs{worker=\"a\"} 2\n\
        code_execution_active_jobs{worker=\"b\"} 3\n\
        code_execution_workers 8\n";

    #[test]
    fn parses_gauges() {
        let s = parse_sample(TEXT, 1.0);
        assert_eq!(s.queue_depth, Some(7.0));
        assert_eq!(s.active_jobs, Some(5.0));
        assert_eq!(s.workers, Some(8.0));
        assert_eq!(gauge(TEXT, "nope"), None);
    }

    fn samples(f: impl Fn(f64) -> f64) -> Vec<MetricSample> {
        (0..60)
            .map(|i| {
                let t = i as f64;
                MetricSample {
                    t,
                    queue_depth: Some(f(t)),
                    active_jobs: Some(4.0),
                    workers: Some(8.0),
                }
            })
            .collect()
    }

    #[test]
    fn stable_noisy_queue_is_not_growing() {
        let a = analyse(&samples(|t| if (t as i64) % 2 == 0 { 3.0 } else { 9.0 }));
        assert!(!a.growing, "{a:?}");
        assert_eq!(a.mean_utilization, Some(0.5));
    }

    #[test]
    fn linear_and_exponential_growth() {
        let a = analyse(&samples(|t| {
            2.0 * t + if (t as i64) % 2 == 0 { 1.0 } else { -1.0 }
        }));
        assert!(a.growing && !a.accelerating, "{a:?}");
        let b = analyse(&samples(|t| (t / 8.0).exp()));
        assert!(b.growing && b.accelerating, "{b:?}");
    }
}
