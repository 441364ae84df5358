//! `kiln bench sandbox`: what the sandbox costs, measured against the same
//! work without it, in one invocation. (`kiln bench workspaces` lives in
//! bench_workspaces.rs, `kiln bench hostile` in bench_hostile.rs,
//! `kiln bench compile-cache` in bench_compile_cache.rs.)
//!
//! 1. Overhead per run: a trivial C program (compiled once on the host) run
//!    N times directly (spawn + wait), N times in a pre-built box ("warm":
//!    the cost of an exec), and N times in a fresh box each time ("cold":
//!    namespaces, mounts, cgroup, exec and teardown). Medians and p90s.
//! 2. Throughput: trivial Python runs with as many running at once as there
//!    are cores, fresh box per run, against the same runs without a sandbox.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use kiln_sandbox::{ExecLimits, ExecSpec, Sandbox, SandboxConfig};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Sandbox overhead per run and Python throughput, each against a bare run.
    Sandbox {
        /// Runs per measurement.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Python runs for the throughput measurement.
        #[arg(long, default_value_t = 100)]
        python_runs: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// The worst cases of issue 11 items 3-5 at once against a `kiln serve`: peak RSS, every submission ended.
    Hostile {
        /// Workers of the server (and interactive slots).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Queued submissions.
        #[arg(long, default_value_t = 16)]
        submissions: usize,
        /// Tests per submission.
        #[arg(long, default_value_t = 16)]
        tests: usize,
        /// Each submission's output budget (limits.output_bytes).
        #[arg(long, default_value_t = 16 << 20)]
        output_bytes: u64,
        /// Interactive clients of each hostile kind.
        #[arg(long, default_value_t = 4)]
        interactive: usize,
        /// Give up on submissions still unfinished after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// CPU and wall time of the corpus's C++ and Java programs without the compile cache, on a miss and on a hit.
    CompileCache {
        /// Rounds (each with a fresh cache); medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Languages of the load-test corpus to measure.
        #[arg(long, value_delimiter = ',', default_value = "cpp,java")]
        languages: Vec<String>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// CPU and wall time of the corpus's compiled programs with and without the toolchain assets (C++ precompiled header, javac class-data archive).
    ToolchainAssets {
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Languages of the load-test corpus to measure.
        #[arg(long, value_delimiter = ',', default_value = "c,cpp,java")]
        languages: Vec<String>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Provisioning P50/P95 and memory per idle workspace for many workspaces at once.
    Workspaces {
        /// Workspaces to create (all running at once at the end).
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Creations in flight at once.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        #[arg(long, default_value = "pod-swdev")]
        template: String,
        /// Seconds to let the idle workspaces settle before measuring memory.
        #[arg(long, default_value_t = 2)]
        settle_secs: u64,
        /// First workspace uid (away from a `kiln serve` on the same host).
        #[arg(long, default_value_t = 300_000)]
        first_uid: u32,
        /// Warm homes to make before timing (`workspaces.warm_homes`;
        /// default: as many as `--count`).
        #[arg(long)]
        warm_homes: Option<usize>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 9 / 10).min(v.len() - 1)]),
    )
}

pub async fn run(a: BenchArgs) -> anyhow::Result<i32> {
    let (runs, python_runs, json) = match a.what {
        BenchWhat::Sandbox {
            runs,
            python_runs,
            json,
        } => (runs, python_runs, json),
        BenchWhat::Hostile {
            workers,
            submissions,
            tests,
            output_bytes,
            interactive,
            timeout_secs,
            json,
        } => {
            let timeout = Duration::from_secs(timeout_secs);
            return crate::bench_hostile::run(crate::bench_hostile::Options {
                workers,
                submissions,
                tests,
                output_bytes,
                interactive,
                timeout,
                json,
            })
            .await;
        }
        BenchWhat::CompileCache {
            rounds,
            languages,
            json,
        } => {
            return crate::bench_compile_cache::run(crate::bench_compile_cache::Options {
                rounds,
                languages,
                json,
            })
            .await;
        }
        BenchWhat::ToolchainAssets {
            rounds,
            languages,
            json,
        } => {
            return crate::bench_assets::run(crate::bench_compile_cache::Options {
                rounds,
                languages,
                json,
            })
            .await;
        }
        BenchWhat::Workspaces {
            count,
            concurrency,
            template,
            settle_secs,
            first_uid,
            warm_homes,
            json,
        } => {
            let settle = Duration::from_secs(settle_secs);
            return crate::bench_workspaces::run(crate::bench_workspaces::Options {
                count,
                concurrency,
                template,
                settle,
                first_uid,
                warm_homes: warm_homes.unwrap_or(count),
                json,
            })
            .await;
        }
    };
    if runs < 10 || python_runs < 2 {
        bail!("use at least 10 --runs and 2 --python-runs");
    }
    let sb = Sandbox::new(SandboxConfig::default()).context("the sandbox is unavailable")?;
    let dir = tempfile::tempdir()?;
    let bin = dir.path().join("true");
    let src = dir.path().join("true.c");
    std::fs::write(&src, "int main(void) { return 0; }\n")?;
    let ok = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .context("running cc")?;
    if !ok.success() {
        bail!("cc could not compile the trivial program");
    }
    let program = std::fs::read(&bin)?;
    let limits = ExecLimits::default();
    let spec = || {
        ExecSpec::new(
            vec!["./true".into()],
            vec!["PATH=/usr/bin:/bin".into()],
            limits,
        )
    };

    let direct = time_n(runs, || async {
        let st = tokio::process::Command::new(&bin)
            .env_clear()
            .status()
            .await?;
        anyhow::ensure!(st.success(), "direct run failed");
        Ok(())
    })
    .await?;

    let b = sb.create_box(&[]).await?;
    b.write_file("true", &program, 0o755).await?;
    let warm = time_n(runs, || async {
        let o = b.exec(spec()).await?;
        anyhow::ensure!(o.success(), "sandboxed run failed: {o:?}");
        Ok(())
    })
    .await?;
    b.destroy().await;

    let phases = std::sync::Mutex::new((Vec::new(), Vec::new()));
    let cold = time_n(runs, || async {
        let t = Instant::now();
        let b = sb.create_box(&[]).await?;
        let created = t.elapsed();
        b.write_file("true", &program, 0o755).await?;
        let o = b.exec(spec()).await?;
        anyhow::ensure!(o.success(), "sandboxed run failed: {o:?}");
        let t = Instant::now();
        b.destroy().await;
        let mut p = phases.lock().expect("phases");
        p.0.push(created);
        p.1.push(t.elapsed());
        Ok(())
    })
    .await?;
    let (create, destroy) = phases.into_inner().expect("phases");
    let (create50, _) = stats(create);
    let (destroy50, _) = stats(destroy);

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let py_direct = throughput(python_runs, cores, |_| async {
        let st = tokio::process::Command::new("/usr/bin/python3")
            .args(["-c", "print(1)"])
            .env_clear()
            .stdout(std::process::Stdio::null())
            .status()
            .await?;
        anyhow::ensure!(st.success(), "python failed");
        Ok(())
    })
    .await?;
    let sbc = sb.clone();
    let py_boxed = throughput(python_runs, cores, move |_| {
        let sb = sbc.clone();
        async move {
            let b = sb.create_box(&[]).await?;
            let o = b
                .exec(ExecSpec::new(
                    vec!["/usr/bin/python3".into(), "-c".into(), "print(1)".into()],
                    vec!["PATH=/usr/bin:/bin".into()],
                    limits,
                ))
                .await?;
            anyhow::ensure!(o.success(), "python in the sandbox failed: {o:?}");
            b.destroy().await;
            Ok(())
        }
    })
    .await?;

    let (d50, d90) = stats(direct);
    let (w50, w90) = stats(warm);
    let (c50, c90) = stats(cold);
    println!(
        "kiln bench sandbox — {runs} runs each, cgroup {:?}, {cores} cores",
        sb.info().cgroup_version
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "trivial C program", "median ms", "p90 ms"
    );
    println!(
        "{:<44} {:>10.3} {:>10.3}",
        "direct (spawn + wait, no sandbox)", d50, d90
    );
    println!(
        "{:<44} {:>10.3} {:>10.3}",
        "sandbox, warm box (exec only)", w50, w90
    );
    println!(
        "{:<44} {:>10.3} {:>10.3}",
        "sandbox, fresh box (create+exec+destroy)", c50, c90
    );
    println!("  of which: create box {create50:.3} ms, destroy box {destroy50:.3} ms (medians)");
    println!(
        "overhead per run (median): warm {:+.3} ms, fresh box {:+.3} ms",
        w50 - d50,
        c50 - d50
    );
    println!("python3 -c 'print(1)', {python_runs} runs, {cores} at once:");
    println!("  direct {py_direct:.1} runs/s, sandbox (fresh box each) {py_boxed:.1} runs/s, ratio {:.2}", py_boxed / py_direct);
    if let Some(path) = json {
        let v = serde_json::json!({
            "runs": runs, "cores": cores,
            "direct_ms": {"median": d50, "p90": d90},
            "warm_ms": {"median": w50, "p90": w90},
            "cold_ms": {"median": c50, "p90": c90},
            "create_box_ms_median": create50, "destroy_box_ms_median": destroy50,
            "overhead_warm_ms": w50 - d50, "overhead_cold_ms": c50 - d50,
            "python_runs_per_s": {"direct": py_direct, "sandbox": py_boxed},
        });
        write_json(&path, &v)?;
    }
    Ok(0)
}

fn write_json(path: &Path, v: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)?)
        .with_context(|| format!("writing {}", path.display()))
}

async fn time_n<F, Fut>(n: usize, mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // One unmeasured run warms caches (page cache, dynamic loader).
    f().await?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await?;
        v.push(t.elapsed());
    }
    Ok(v)
}

/// Runs `n` jobs with `parallel` at once; returns jobs per second.
async fn throughput<F, Fut>(n: usize, parallel: usize, f: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                f(0).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}
