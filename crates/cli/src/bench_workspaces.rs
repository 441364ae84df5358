//! `kiln bench workspaces`: provisioning times and memory of many idle
//! workspaces on this node, with the workspace manager in-process (no HTTP).
//!
//! Creates `--count` workspaces from `--template` with `--concurrency` at
//! once, each timed from the create call until it is running with its agent
//! connected; then, with all of them idle, measures memory three ways: the
//! host's `MemAvailable` drop (everything, kernel included), the cgroup
//! memory usage of the boxes, and the PSS/RSS of the boxes' processes
//! (helper + init). Finally deletes them all (timed too).
//!
//! Before that, the floor: `--count` bare boxes (no home, no template) made
//! and destroyed with the same concurrency, each timed from the call until
//! it is ready; and the warm homes (`--warm-homes`) are made and waited for,
//! so that creations are timed against a full pool, as on a server that
//! has been up for a while.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kiln_sandbox::{Sandbox, SandboxConfig};
use kiln_workspace::{CreateRequest, Manager, Settings, Status};
use serde_json::json;
use tokio::sync::Semaphore;

pub struct Options {
    pub count: usize,
    pub concurrency: usize,
    pub template: String,
    pub settle: Duration,
    pub first_uid: u32,
    pub warm_homes: usize,
    pub json: Option<std::path::PathBuf>,
}

fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Processes that are this binary re-executed as a box helper (and the inits they forked).
fn box_processes() -> Vec<u32> {
    let me = std::env::current_exe().ok();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let is_helper =
            cmd.split(|b| *b == 0).nth(1) == Some(kiln_sandbox::helper::HELPER_ARG.as_bytes());
        if is_helper && std::fs::read_link(e.path().join("exe")).ok() == me {
            out.push(pid);
        }
    }
    out
}

fn smaps_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Memory charged to the boxes' cgroups (v1 `memory.usage_in_bytes` or v2 `memory.current`).
fn cgroup_bytes(pids: &[u32]) -> Option<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    for pid in pids {
        let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        let v1 = cg.lines().find_map(|l| {
            l.split_once(":memory:")
                .map(|(_, p)| format!("/sys/fs/cgroup/memory{p}/memory.usage_in_bytes"))
        });
        let v2 = cg.lines().find_map(|l| {
            l.strip_prefix("0::")
                .map(|p| format!("/sys/fs/cgroup{p}/memory.current"))
        });
        let Some(file) = v1.or(v2) else { continue };
        if seen.insert(file.clone()) {
            total += std::fs::read_to_string(&file)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()?;
        }
    }
    Some(total)
}

/// The floor: `count` bare boxes made (and destroyed) `concurrency` at a
/// time, each timed until it is ready: P50/P95 in ms.
async fn fresh_boxes(
    sandbox: &Arc<Sandbox>,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<serde_json::Value> {
    let sem = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (sb, sem) = (sandbox.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("open");
            let t0 = Instant::now();
            let b = sb.create_box(&[]).await?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            b.destroy().await;
            Ok::<f64, kiln_sandbox::SandboxError>(ms)
        }));
    }
    let mut ms = Vec::new();
    for t in tasks {
        ms.push(t.await?.context("a bare box")?);
    }
    ms.sort_by(f64::total_cmp);
    Ok(json!({"p50": percentile(&ms, 0.5), "p95": percentile(&ms, 0.95)}))
}

pub async fn run(o: Options) -> anyhow::Result<i32> {
    if o.count == 0 || o.concurrency == 0 {
        bail!("--count and --concurrency must be at least 1");
    }
    let nofile = kiln_workspace::manager::raise_open_files_limit();
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: Some(dir.path().join("workspaces")),
        max_workspaces: o.count,
        max_per_owner: o.count,
        idle_timeout_secs: 0,
        first_uid: o.first_uid,
        uid_count: (o.count as u32).max(100) * 2,
        warm_homes: o.warm_homes,
        ..Settings::default()
    };
    let sandbox = Sandbox::new(SandboxConfig::default()).context("the sandbox is unavailable")?;
    let fresh = fresh_boxes(&sandbox, o.count, o.concurrency).await?;
    let m =
        Manager::new(sandbox, settings, dir.path()).context("starting the workspace manager")?;
    m.template(&o.template)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t_pool = Instant::now();
    while !m.warm_homes().1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pool_fill = t_pool.elapsed();
    let owner = "bench";
    let avail_before = meminfo("MemAvailable:");
    eprintln!(
        "creating {} {} workspaces, {} at once (open-file limit {nofile})…",
        o.count, o.template, o.concurrency
    );

    let sem = Arc::new(Semaphore::new(o.concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..o.count {
        let (m, sem, template) = (m.clone(), sem.clone(), o.template.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("open");
            let t0 = Instant::now();
            let req = CreateRequest {
                name: format!("bench-{i}"),
                template,
                parameters: Default::default(),
            };
            let w = m.create(owner, req).map_err(|e| e.to_string())?;
            let w = m
                .wait_for(owner, w.id, &[Status::Running])
                .await
                .map_err(|e| e.to_string())?;
            if w.status != Status::Running {
                return Err(format!("{}: {}", w.name, w.error.unwrap_or_default()));
            }
            Ok::<_, String>((w.id, t0.elapsed().as_secs_f64() * 1000.0, w.build.timings))
        }));
    }
    let mut ids = Vec::new();
    let mut durations = Vec::new();
    let mut steps: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await? {
            Ok((id, ms, timings)) => {
                ids.push(id);
                durations.push(ms);
                for s in timings {
                    steps.entry(s.step).or_default().push(s.duration_ms as f64);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let create_wall = started.elapsed();
    durations.sort_by(f64::total_cmp);
    tokio::time::sleep(o.settle).await;
    let avail_after = meminfo("MemAvailable:");
    let procs = box_processes();
    let pss_kb: u64 = procs.iter().map(|p| smaps_kb(*p, "Pss:")).sum();
    let rss_kb: u64 = procs.iter().map(|p| smaps_kb(*p, "Rss:")).sum();
    let cgroup = cgroup_bytes(&procs);
    let running = m.list(owner, Some(Status::Running), None).len();
    let n = ids.len().max(1) as f64;
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let step_p50: serde_json::Map<String, serde_json::Value> = steps
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (
                k,
                json!({"p50_ms": percentile(&v, 0.5), "p95_ms": percentile(&v, 0.95)}),
            )
        })
        .collect();

    let t_del = Instant::now();
    let mut del = Vec::new();
    for id in &ids {
        if m.delete(owner, *id).is_ok() {
            let m = m.clone();
            let id = *id;
            del.push(tokio::spawn(async move {
                m.wait_for(owner, id, &[Status::Deleted]).await
            }));
        }
    }
    for d in del {
        let _ = d.await;
    }
    let delete_wall = t_del.elapsed();
    m.clear_warm_homes().await;

    let report = json!({
        "template": o.template,
        "count": o.count,
        "concurrency": o.concurrency,
        "ready": durations.len(),
        "failed": errors.len(),
        "running_at_once": running,
        "provision_ms": {
            "p50": percentile(&durations, 0.5),
            "p95": percentile(&durations, 0.95),
            "p99": percentile(&durations, 0.99),
            "max": durations.last().copied().unwrap_or(0.0),
        },
        "steps": step_p50,
        "fresh_box_ms": fresh,
        "warm_homes": o.warm_homes,
        "warm_homes_fill_seconds": pool_fill.as_secs_f64(),
        "create_all_seconds": create_wall.as_secs_f64(),
        "delete_all_seconds": delete_wall.as_secs_f64(),
        "memory_per_workspace_mib": {
            "host_memavailable_drop": mib(avail_before.saturating_sub(avail_after) as f64 / n),
            "cgroup_usage": cgroup.map(|c| mib(c as f64 / n)),
            "box_processes_pss": pss_kb as f64 / 1024.0 / n,
            "box_processes_rss": rss_kb as f64 / 1024.0 / n,
        },
        "box_processes": procs.len(),
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(p) = o.json {
        std::fs::write(&p, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
