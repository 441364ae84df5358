//! `GET /api/v1/submissions/{id}` latency under N concurrent clients (closed
//! loop, one request in flight per client), for scripts/bench-serve.sh.
//!
//!     get_bench URL IDS_FILE [CLIENTS=50] [SECONDS=20]
//!
//! IDS_FILE holds submission ids, one a line; the clients cycle through them.
//! Prints one JSON object: requests, errors, rps, p50_ms, p95_ms, p99_ms, max_ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(ids_file)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: get_bench URL IDS_FILE [CLIENTS] [SECONDS]");
    };
    let clients: usize = args.get(3).map_or(Ok(50), |s| s.parse())?;
    let seconds: u64 = args.get(4).map_or(Ok(20), |s| s.parse())?;
    let ids: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(ids_file)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    );
    anyhow::ensure!(!ids.is_empty(), "{ids_file} has no ids");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, ids, next, errors, base) = (
            client.clone(),
            ids.clone(),
            next.clone(),
            errors.clone(),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < end {
                let id = &ids[next.fetch_add(1, Ordering::Relaxed) % ids.len()];
                let start = Instant::now();
                let ok = match client
                    .get(format!("{base}/api/v1/submissions/{id}"))
                    .send()
                    .await
                {
                    Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                    Err(_) => false,
                };
                samples.push(start.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "clients": clients,
            "seconds": seconds,
            "requests": all.len(),
            "errors": errors.load(Ordering::Relaxed),
            "rps": (all.len() as f64 / seconds as f64).round(),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        })
    );
    Ok(())
}
