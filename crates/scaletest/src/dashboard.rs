//! `dashboard`: simulated users browsing the API the way Kiln's (or Coder's)
//! dashboard does — workspace list and details, templates, languages,
//! submissions — each page view followed by think time plus uniform random
//! jitter. Every request's latency goes into HdrHistograms, per endpoint and
//! overall (criteria 14.9 and 14.10 read the overall P95/P99); a request
//! fails on a transport error, a timeout or a non-2xx status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use kiln_measure::Percentiles;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;

use crate::config::{fmt_dur, Dashboard};
use crate::harness::{histogram, record, run_jobs, Limits, Logs, Results, RunInfo, Stop};
use crate::platform::{Platform, WorkspaceRef, NAME_PREFIX};

#[derive(Debug)]
struct Endpoint {
    latency: Histogram<u64>,
    errors: u64,
}

/// Latency and errors of every request, per endpoint.
#[derive(Debug, Default, Clone)]
pub struct Stats(Arc<Mutex<BTreeMap<&'static str, Endpoint>>>);

impl Stats {
    pub fn add(&self, endpoint: &'static str, latency: Duration, ok: bool) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(endpoint).or_insert_with(|| Endpoint {
            latency: histogram(),
            errors: 0,
        });
        record(&mut e.latency, latency);
        e.errors += u64::from(!ok);
    }

    /// `(requests, errors, overall percentiles, per-endpoint JSON)`.
    pub fn summary(&self) -> (u64, u64, Percentiles, serde_json::Value) {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = histogram();
        let (mut n, mut errors) = (0, 0);
        let mut per = serde_json::Map::new();
        for (name, e) in m.iter() {
            let _ = all.add(&e.latency);
            n += e.latency.len();
            errors += e.errors;
            per.insert(
                name.to_string(),
                json!({"requests": e.latency.len(), "errors": e.errors, "latency": Percentiles::of_us(&e.latency)}),
            );
        }
        (
            n,
            errors,
            Percentiles::of_us(&all),
            serde_json::Value::Object(per),
        )
    }
}

/// Runs the dashboard test: `concurrency` users for `duration`.
pub async fn run(
    platform: Arc<dyn Platform>,
    cfg: &Dashboard,
    info: &RunInfo,
    stop: Stop,
    verbose: bool,
) -> Results {
    let started_at = kiln_measure::time::rfc3339(SystemTime::now());
    let workspaces = Arc::new(platform.list(NAME_PREFIX, false).await.unwrap_or_default());
    let stats = Stats::default();
    let users: Vec<String> = (0..cfg.concurrency)
        .map(|i| format!("user-{i:04}"))
        .collect();
    let limits = Limits {
        concurrency: 0,
        job_timeout: cfg.duration.0
            + cfg.request_timeout.0
            + cfg.think_time.0
            + cfg.jitter.0
            + Duration::from_secs(5),
        run_timeout: cfg.duration.0
            + cfg.request_timeout.0
            + cfg.think_time.0
            + cfg.jitter.0
            + Duration::from_secs(10),
    };
    let (cfg2, st) = (cfg.clone(), stats.clone());
    let (runs, elapsed) = run_jobs(
        "dashboard",
        users,
        limits,
        stop.clone(),
        verbose,
        move |i, _, logs| {
            let (platform, cfg, stats, workspaces) = (
                platform.clone(),
                cfg2.clone(),
                st.clone(),
                workspaces.clone(),
            );
            user(i, platform, cfg, stats, workspaces, logs)
        },
    )
    .await;
    let interrupted = *stop.borrow();
    let mut r = Results::build(
        crate::manifest::DASHBOARD,
        info,
        started_at,
        runs,
        elapsed,
        interrupted,
    );
    let (requests, errors, latency, endpoints) = stats.summary();
    r.extra.insert("users".into(), json!(cfg.concurrency));
    r.extra.insert("requests".into(), json!(requests));
    r.extra.insert("request_errors".into(), json!(errors));
    r.extra.insert(
        "request_error_rate_percent".into(),
        json!(if requests == 0 {
            0.0
        } else {
            100.0 * errors as f64 / requests as f64
        }),
    );
    r.extra.insert("latency".into(), json!(latency));
    r.extra.insert("endpoints".into(), endpoints);
    r
}

/// One simulated user: page views with think time until the test's end;
/// fails when one of its requests failed.
async fn user(
    i: usize,
    platform: Arc<dyn Platform>,
    cfg: Dashboard,
    stats: Stats,
    workspaces: Arc<Vec<WorkspaceRef>>,
    logs: Logs,
) -> Result<Option<serde_json::Value>, String> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64 + 1);
    let end = Instant::now() + cfg.duration.0;
    let (mut n, mut failed) = (0u64, 0u64);
    while Instant::now() < end {
        let ws: Vec<_> = if workspaces.is_empty() {
            vec![]
        } else {
            vec![workspaces[rng.gen_range(0..workspaces.len())].clone()]
        };
        let pages = platform.dashboard_pages(&ws).await;
        let page = &pages[rng.gen_range(0..pages.len())];
        let t0 = Instant::now();
        let r = platform
            .http()
            .send(Method::GET, &page.path, None, cfg.request_timeout.0)
            .await;
        let latency = t0.elapsed();
        let ok = matches!(&r, Ok(a) if (200..300).contains(&a.status));
        stats.add(page.endpoint, latency, ok);
        n += 1;
        if !ok {
            failed += 1;
            let why = match r {
                Ok(a) => format!("HTTP {}", a.status),
                Err(e) => e.to_string(),
            };
            logs.log(format!(
                "GET {} failed after {}: {why}",
                page.path,
                fmt_dur(latency)
            ));
        }
        let pause = cfg.think_time.0 + cfg.jitter.0.mul_f64(rng.gen::<f64>());
        tokio::time::sleep(pause.min(end.saturating_duration_since(Instant::now()))).await;
    }
    logs.log(format!("{n} requests, {failed} failed"));
    let m = Some(json!({"requests": n, "errors": failed}));
    if failed > 0 {
        Err(format!("{failed} of {n} requests failed"))
    } else {
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_per_endpoint_and_overall() {
        let s = Stats::default();
        for ms in 1..=100u64 {
            s.add("templates", Duration::from_millis(ms), true);
        }
        s.add("languages", Duration::from_millis(900), false);
        let (n, errors, all, per) = s.summary();
        assert_eq!((n, errors), (101, 1));
        assert!((per["templates"]["latency"]["p95_ms"].as_f64().unwrap() - 95.0).abs() < 1.0);
        assert_eq!(per["languages"]["errors"], 1);
        assert!((all.max_ms - 900.0).abs() < 1.0);
    }
}
