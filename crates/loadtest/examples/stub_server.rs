//! A trivial loopback target for benchmarks: the stub submission API with no
//! delay. `cargo run --release -p kiln-loadtest --example stub_server -- 127.0.0.1:18080 [delay_ms]`

use std::time::Duration;

use kiln_loadtest::stub::{spawn, StubConfig};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut argv = std::env::args().skip(1);
    let addr = argv.next().unwrap_or_else(|| "127.0.0.1:18080".into());
    let delay = argv.next().and_then(|d| d.parse().ok()).unwrap_or(0);
    let (local, task) = spawn(
        StubConfig {
            delay: Duration::from_millis(delay),
            workers: 16,
            ..Default::default()
        },
        &addr,
    )
    .await?;
    eprintln!("stub listening on http://{local}");
    let _ = task.await;
    Ok(())
}
