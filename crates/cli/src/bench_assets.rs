//! `kiln bench toolchain-assets`: what the toolchain assets save on every
//! compile, cached or not. Each compiled program of the load-test corpus
//! runs through two engines without a compile cache, alternately: one
//! without assets and one whose assets were built first (runs of the same
//! program until its asset is in the store). For each, the CPU of this
//! process and every box it reaped and the wall time, as medians over the
//! rounds, and the compile CPU the reports give.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kiln_engine::{AssetsConfig, Engine, EngineConfig};
use kiln_loadtest::corpus::Program;

use crate::bench_compile_cache::{measure, median, plain_engine, Options};

/// How long the assets of the corpus may take to build.
const BUILD_DEADLINE: Duration = Duration::from_secs(600);

pub async fn run(o: Options) -> anyhow::Result<i32> {
    let programs = o.programs()?;
    let (catalog, base, plain) = plain_engine()?;
    let dir = tempfile::tempdir()?;
    let fast = Engine::with_catalog(
        EngineConfig {
            assets: Some(AssetsConfig {
                dir: dir.path().to_path_buf(),
                max_bytes: 4 << 30,
            }),
            ..base
        },
        catalog,
    )?;
    build_assets(&fast, &programs).await?;
    // (CPU, wall, compile CPU) per engine, per program.
    let mut samples = vec![[(); 2].map(|_| [Vec::new(), Vec::new(), Vec::new()]); programs.len()];
    for _ in 0..o.rounds {
        for (p, s) in programs.iter().zip(samples.iter_mut()) {
            for (i, e) in [&plain, &fast].into_iter().enumerate() {
                let (cpu, wall, r) = measure(e, p).await?;
                s[i][0].push(cpu);
                s[i][1].push(wall);
                s[i][2].push(r.compile_time_ms.unwrap_or_default() as f64);
            }
        }
    }
    println!(
        "kiln bench toolchain-assets — medians of {} rounds; no compile cache",
        o.rounds
    );
    println!(
        "{:<16} {:>22} {:>22} {:>10}",
        "program", "without: CPU (compile)", "with: CPU (compile)", "CPU saved"
    );
    let mut rows = Vec::new();
    let mut totals = [0.0f64; 2];
    for (p, s) in programs.iter().zip(samples) {
        let m = s.map(|v| v.map(median));
        let name = format!("{}/{}", p.language, p.complexity);
        let cell = |i: usize| format!("{:.0} ({:.0})", m[i][0], m[i][2]);
        println!(
            "{name:<16} {:>22} {:>22} {:>9.0}%",
            cell(0),
            cell(1),
            100.0 * (1.0 - m[1][0] / m[0][0])
        );
        totals[0] += m[0][0];
        totals[1] += m[1][0];
        rows.push(serde_json::json!({
            "program": name,
            "without": {"cpu_ms": m[0][0], "wall_ms": m[0][1], "compile_cpu_ms": m[0][2]},
            "with": {"cpu_ms": m[1][0], "wall_ms": m[1][1], "compile_cpu_ms": m[1][2]},
        }));
    }
    println!(
        "all: {:.0} → {:.0} ms of CPU ({:.2}×); cells: CPU of kiln and every box in ms (compile_time_ms reported)",
        totals[0],
        totals[1],
        totals[1] / totals[0]
    );
    if let Some(path) = o.json {
        let v = serde_json::json!({"rounds": o.rounds, "programs": rows});
        std::fs::write(&path, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}

/// Runs each program until the assets it can use are built (C++ sources
/// whose leading includes differ get one each; Java shares one; C none).
async fn build_assets(e: &Engine, programs: &[&Program]) -> anyhow::Result<()> {
    let until = Instant::now() + BUILD_DEADLINE;
    for _ in 0..kiln_engine::assets::BUILD_AFTER {
        for p in programs {
            measure(e, p).await?;
        }
    }
    while e.assets_building() > 0 {
        if Instant::now() > until {
            bail!("the toolchain assets took more than {BUILD_DEADLINE:?} to build");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
