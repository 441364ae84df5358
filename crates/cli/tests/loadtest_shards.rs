//! `kiln loadtest --shard I/N --start-at T` as separate processes against the
//! loopback stub of known latency, then `kiln loadtest merge`: the merged
//! run has exactly the counts of one whole run of the same scenario and seed,
//! and its percentiles agree with it (HdrHistogram's 3 digits, plus the
//! timing noise of two runs on a shared machine: the merge itself is exact,
//! see `kiln_loadtest::merge::ser::tests`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_loadtest::stub::{self, StubConfig};
use serde_json::Value;
use tokio::process::Command;

const SCENARIO: &str = "name = \"shards\"\n[load]\nmodel = \"open\"\nspacing = \"poisson\"\nlate_threshold = \"200ms\"\n\
[[load.stages]]\nduration = \"4s\"\nrate = 40\n[languages]\npython = 1\ncpp = 1\n\
[[criteria]]\nmetric = \"p95_latency_s\"\nop = \"<\"\ntarget = 2\n";

/// The stub's latency: long enough that the scheduling noise of a shared
/// machine (tens of ms) stays small beside it.
const TRUTH_MS: f64 = 300.0;

fn kiln(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.args(args)
        .env_remove("KILN_TARGET")
        .env_remove("KILN_API_KEY")
        .env_remove("KILN_SHARD")
        .env_remove("KILN_START_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn done(c: &mut Command) -> (i32, String) {
    let o = tokio::time::timeout(Duration::from_secs(120), c.output())
        .await
        .expect("kiln loadtest finished")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

fn results(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap()
}

fn run_args<'a>(scn: &'a str, url: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "loadtest",
        "--quiet",
        "--scenario",
        scn,
        "--target",
        url,
        "--seed",
        "7",
        "--out-exact",
        out,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_merged_match_one_whole_run() {
    let (addr, _stub) = stub::spawn(
        StubConfig {
            delay: Duration::from_millis(TRUTH_MS as u64),
            workers: 8,
            ..Default::default()
        },
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let url = format!("http://{addr}");
    let tmp = tempfile::tempdir().unwrap();
    let scn = tmp.path().join("shards.toml");
    std::fs::write(&scn, SCENARIO).unwrap();
    let scn = scn.to_str().unwrap();
    let path = |n: &str| -> PathBuf { tmp.path().join(n) };
    let (d0, d1, merged, whole) = (path("s0"), path("s1"), path("merged"), path("whole"));
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(3);
    let start = format!("{}", start.as_secs());

    // The two shards, as processes, started together by the barrier.
    let mut shards = Vec::new();
    for (i, d) in [&d0, &d1].into_iter().enumerate() {
        let shard = format!("{i}/2");
        let mut a = run_args(scn, &url, d.to_str().unwrap());
        a.extend(["--shard", &shard, "--start-at", &start]);
        shards.push(kiln(&a).spawn().unwrap());
    }
    for s in shards {
        let o = s.wait_with_output().await.unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(d0.join("histograms.json").is_file());
    let (code, out) = done(&mut kiln(&[
        "loadtest",
        "merge",
        d1.to_str().unwrap(),
        d0.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "{out}");
    for f in [
        "results.json",
        "summary-report.md",
        "report.html",
        "results_stats.csv",
    ] {
        assert!(merged.join(f).is_file(), "{f}");
    }
    let (code, out) = done(&mut kiln(&run_args(scn, &url, whole.to_str().unwrap()))).await;
    assert_eq!(code, 0, "{out}");

    let (m, w) = (results(&merged), results(&whole));
    let (s0, s1) = (results(&d0), results(&d1));
    let (mp, wp) = (&m["phases"][0], &w["phases"][0]);
    // Counts: exactly one whole run's (the same schedule, the same programs).
    for k in ["arrivals", "sent", "completed", "dropped", "errors"] {
        assert_eq!(mp[k], wp[k], "{k}");
    }
    assert_eq!(mp["outcomes"], wp["outcomes"]);
    for lang in ["python", "cpp"] {
        assert_eq!(
            mp["by_language"][lang]["count"], wp["by_language"][lang]["count"],
            "{lang}"
        );
    }
    let sent = |v: &Value| v["phases"][0]["sent"].as_u64().unwrap();
    assert_eq!(sent(&s0) + sent(&s1), sent(&w));
    assert!(sent(&s0).abs_diff(sent(&s1)) <= 1, "interleaved halves");
    assert_eq!(m["shard"], Value::Null);
    assert_eq!(s1["shard"]["index"], 1);
    // Percentiles: the truth is 300 ms. The merge itself is exact (unit
    // test); two runs of debug builds on a shared machine differ by tens of
    // ms of scheduling noise, so P50 and P90 agree with the whole run's
    // within HdrHistogram's 0.1 % plus a quarter of the truth, and every
    // percentile lies within [truth, truth + 1 s).
    let at = |v: &Value, p: &str| v["latency"][p].as_f64().unwrap();
    for p in ["p50_ms", "p90_ms", "p99_ms"] {
        let (a, b) = (at(mp, p), at(wp, p));
        let near = TRUTH_MS..TRUTH_MS + 1000.0;
        assert!(
            near.contains(&a) && near.contains(&b),
            "{p}: merged {a}, whole {b}"
        );
        if p != "p99_ms" {
            let slack = 0.001 * b + 0.25 * TRUTH_MS;
            assert!((a - b).abs() <= slack, "{p}: merged {a} ms, whole {b} ms");
        }
    }
    assert_eq!(m["verdict"], "pass");

    // One shard alone is not a run.
    let (code, out) = done(&mut kiln(&["loadtest", "merge", d0.to_str().unwrap()])).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("need each of the 2 shards"), "{out}");
}

#[tokio::test]
async fn shard_flags_are_checked_and_dry_run_counts_the_slice() {
    let (code, out) = done(&mut kiln(&["loadtest", "--shard", "2/2", "--dry-run"])).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("0 <= I < N"), "{out}");
    let count = |text: &str| -> u64 {
        let i = text.find(" arrivals (seed").unwrap();
        text[..i].rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (_, whole) = done(&mut kiln(&["loadtest", "--scenario", "burst", "--dry-run"])).await;
    let mut sum = 0;
    for s in ["0/3", "1/3", "2/3"] {
        let (code, out) = done(&mut kiln(&[
            "loadtest",
            "--scenario",
            "burst",
            "--dry-run",
            "--shard",
            s,
        ]))
        .await;
        assert_eq!(code, 0, "{out}");
        sum += count(&out);
    }
    assert_eq!(sum, count(&whole), "{whole}");
}
