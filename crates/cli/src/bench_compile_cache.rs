//! `kiln bench compile-cache`: what the compile cache saves. Each C++ and
//! Java program of the load-test corpus goes through the engine three ways
//! per round: without a cache, cold (a miss: compiled, artifacts collected,
//! the entry written) and hit (a fresh cache each round, so the cold run is
//! a real miss). For each, the CPU of this process and of every box it
//! reaped (`getrusage` of itself and its children, the box torn down and
//! the entry written before the measurement ends) and the wall time, as
//! medians over the rounds; beside them the compile CPU the cold run
//! reported.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kiln_engine::{Catalog, CompileCacheConfig, Engine, EngineConfig, Limits, Submission};
use kiln_loadtest::corpus::{Program, CORPUS};
use nix::sys::resource::{getrusage, UsageWho};

pub struct Options {
    pub rounds: usize,
    pub languages: Vec<String>,
    pub json: Option<std::path::PathBuf>,
}

/// The host's catalogue, the config of one box at a time (the programs run
/// in series) and an engine of it without cache or assets: the baseline of
/// both compile benchmarks.
pub(crate) fn plain_engine() -> anyhow::Result<(Catalog, EngineConfig, Engine)> {
    let catalog = Catalog::detect();
    let base = EngineConfig {
        max_boxes: 1,
        ..EngineConfig::default()
    };
    let plain = Engine::with_catalog(base.clone(), catalog.clone())
        .context("the sandbox is unavailable")?;
    Ok((catalog, base, plain))
}

impl Options {
    /// The corpus programs of `languages`, checked with `rounds`.
    pub fn programs(&self) -> anyhow::Result<Vec<&'static Program>> {
        if self.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        let programs: Vec<&Program> = CORPUS
            .iter()
            .filter(|p| self.languages.iter().any(|l| l == p.language))
            .collect();
        if programs.is_empty() {
            bail!("no corpus program in {:?}", self.languages);
        }
        Ok(programs)
    }
}

/// CPU of this process and its reaped children, in milliseconds.
pub(crate) fn cpu_ms() -> f64 {
    let ms = |who| {
        getrusage(who).map_or(0.0, |u| {
            let t = |tv: nix::sys::time::TimeVal| {
                tv.tv_sec() as f64 * 1000.0 + tv.tv_usec() as f64 / 1000.0
            };
            t(u.user_time()) + t(u.system_time())
        })
    };
    ms(UsageWho::RUSAGE_SELF) + ms(UsageWho::RUSAGE_CHILDREN)
}

fn submission(p: &Program) -> Submission {
    Submission {
        language: p.language.into(),
        files: p
            .files
            .iter()
            .map(|(name, content)| kiln_engine::SourceFile {
                name: (*name).into(),
                content: (*content).into(),
            })
            .collect(),
        stdin: p.stdin.into(),
        args: Vec::new(),
        expected_output: Some(p.expected_output.into()),
        limits: Limits::default(),
        tests: Vec::new(),
        ..Default::default()
    }
}

/// One measured submission: (CPU ms, wall ms, the report).
pub(crate) async fn measure(
    e: &Engine,
    p: &Program,
) -> anyhow::Result<(f64, f64, kiln_engine::Report)> {
    let (cpu, t) = (cpu_ms(), Instant::now());
    let r = e.execute(submission(p)).await;
    // The box torn down (its CPU reaped) and the cache entry written.
    if !e.shutdown(Duration::from_secs(30)).await {
        bail!("the engine did not settle within 30 s");
    }
    let (cpu, wall) = (cpu_ms() - cpu, t.elapsed().as_secs_f64() * 1000.0);
    if r.status != kiln_engine::Status::Accepted {
        bail!(
            "{} {}: {} ({:?})",
            p.language,
            p.complexity,
            r.status,
            r.message
        );
    }
    Ok((cpu, wall, r))
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[derive(Default)]
struct Samples {
    cpu: [Vec<f64>; 3],
    wall: [Vec<f64>; 3],
    compile_cpu: Vec<f64>,
}

pub async fn run(o: Options) -> anyhow::Result<i32> {
    let programs = o.programs()?;
    let (catalog, base, plain) = plain_engine()?;
    let mut samples: Vec<Samples> = programs.iter().map(|_| Samples::default()).collect();
    // One unmeasured run of each warms the page cache and the toolchains.
    for p in &programs {
        measure(&plain, p).await?;
    }
    for _ in 0..o.rounds {
        let dir = tempfile::tempdir()?;
        let cached = Engine::with_catalog(
            EngineConfig {
                compile_cache: Some(CompileCacheConfig {
                    dir: dir.path().to_path_buf(),
                    max_bytes: 256 << 20,
                }),
                ..base.clone()
            },
            catalog.clone(),
        )?;
        for (p, s) in programs.iter().zip(samples.iter_mut()) {
            let (cpu, wall, _) = measure(&plain, p).await?;
            let (cold_cpu, cold_wall, cold) = measure(&cached, p).await?;
            let (hit_cpu, hit_wall, hit) = measure(&cached, p).await?;
            if (cold.compile_cached, hit.compile_cached) != (Some(false), Some(true)) {
                bail!(
                    "{} {}: cold then hit expected, got {:?} then {:?}",
                    p.language,
                    p.complexity,
                    cold.compile_cached,
                    hit.compile_cached
                );
            }
            for (i, (c, w)) in [(cpu, wall), (cold_cpu, cold_wall), (hit_cpu, hit_wall)]
                .into_iter()
                .enumerate()
            {
                s.cpu[i].push(c);
                s.wall[i].push(w);
            }
            s.compile_cpu
                .push(cold.compile_time_ms.unwrap_or_default() as f64);
        }
    }
    report(&programs, samples, o.rounds, o.json.as_deref())
}

fn report(
    programs: &[&Program],
    samples: Vec<Samples>,
    rounds: usize,
    json: Option<&std::path::Path>,
) -> anyhow::Result<i32> {
    println!("kiln bench compile-cache — medians of {rounds} rounds; CPU of kiln and every box (ms), wall (ms)");
    println!(
        "{:<16} {:>16} {:>16} {:>16} {:>12} {:>8}",
        "program", "no cache", "cold (miss)", "hit", "compile CPU", "saved"
    );
    let mut rows = Vec::new();
    for (p, s) in programs.iter().zip(samples) {
        let cpu = s.cpu.map(median);
        let wall = s.wall.map(median);
        let compile = median(s.compile_cpu);
        let name = format!("{}/{}", p.language, p.complexity);
        let cell = |i: usize| format!("{:.0} ({:.0})", cpu[i], wall[i]);
        println!(
            "{name:<16} {:>16} {:>16} {:>16} {compile:>12.0} {:>7.0}%",
            cell(0),
            cell(1),
            cell(2),
            100.0 * (1.0 - cpu[2] / cpu[0])
        );
        rows.push(serde_json::json!({
            "program": name,
            "cpu_ms": {"no_cache": cpu[0], "cold": cpu[1], "hit": cpu[2]},
            "wall_ms": {"no_cache": wall[0], "cold": wall[1], "hit": wall[2]},
            "compile_cpu_ms_reported": compile,
        }));
    }
    println!("cells: CPU ms (wall ms); compile CPU: what the cold run reported (compile_time_ms); saved: CPU of a hit against no cache");
    if let Some(path) = json {
        let v = serde_json::json!({"rounds": rounds, "programs": rows});
        std::fs::write(path, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}
