//! Limits hold whatever the reader of a streaming exec does: a reader that
//! never reads, one that goes away, and a caller that drops the exec. Each
//! test checks the host side: no process of the box's uid is left.

mod common;
use common::*;
use kiln_sandbox::{ExecLimits, LimitHit, Output};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn short() -> ExecLimits {
    ExecLimits {
        cpu_ms: 1000,
        wall_ms: 1500,
        memory_bytes: 64 << 20,
        processes: 32,
        output_bytes: 64 << 20,
        ..ExecLimits::default()
    }
}

/// Host processes running as `uid` (from /proc/*/status).
fn processes_of(uid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let real = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if real == Some(uid) {
            pids.push(pid);
        }
    }
    pids
}

/// Waits (at most `within`) until no process runs as `uid`.
async fn gone_within(uid: u32, within: Duration) {
    let start = Instant::now();
    loop {
        let left = processes_of(uid);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "processes of box uid {uid} still alive after {within:?}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reader that never reads: the program blocks on its full pipe, and the
/// wall-clock limit still ends it (before, the exec waited on the stream
/// forever and the program had no limit at all).
#[tokio::test]
async fn a_stream_nobody_reads_does_not_suspend_the_limits() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let (tx, _rx) = mpsc::channel::<Output>(1);
    let mut s = spec(&["/bin/sh", "-c", "yes 'a line of output'"], short());
    s.stream = Some(tx);
    let o = tokio::time::timeout(Duration::from_secs(20), b.exec(s))
        .await
        .expect("the exec ended at its limit")
        .unwrap();
    assert!(
        matches!(o.limit, Some(LimitHit::WallTime | LimitHit::CpuTime)),
        "{:?}",
        o.limit
    );
    assert!(o.wall_ms < 5_000, "{o:?}");
    gone_within(b.uid(), Duration::from_secs(2)).await;
    let (tx, _rx) = mpsc::channel::<Output>(1);
    let mut s = spec(
        &["/bin/sh", "-c", "while :; do :; done"],
        ExecLimits {
            cpu_ms: 500,
            wall_ms: 20_000,
            ..short()
        },
    );
    s.stream = Some(tx);
    let o = tokio::time::timeout(Duration::from_secs(20), b.exec(s))
        .await
        .expect("the exec ended at its limit")
        .unwrap();
    assert_eq!(o.limit, Some(LimitHit::CpuTime), "{o:?}");
    b.destroy().await;
}

/// The reader goes away mid-run: the program is stopped within a second.
#[tokio::test]
async fn a_reader_that_leaves_stops_the_run() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let (tx, rx) = mpsc::channel::<Output>(4);
    let mut s = spec(
        &["/bin/sh", "-c", "echo started; sleep 100"],
        ExecLimits {
            wall_ms: 60_000,
            ..short()
        },
    );
    s.stream = Some(tx);
    let run = tokio::spawn({
        let mut rx = rx;
        async move {
            let first = rx.recv().await;
            drop(rx);
            (first, Instant::now())
        }
    });
    let o = tokio::time::timeout(Duration::from_secs(10), b.exec(s))
        .await
        .expect("the exec ended")
        .unwrap();
    let (first, left_at) = run.await.unwrap();
    assert_eq!(first, Some(Output::Stdout("started\n".into())));
    assert_eq!(o.limit, Some(LimitHit::StreamClosed), "{o:?}");
    assert!(
        left_at.elapsed() < Duration::from_secs(2),
        "the exec returned {:?} after the reader left",
        left_at.elapsed()
    );
    gone_within(b.uid(), Duration::from_secs(1)).await;
    b.destroy().await;
}

/// The exec's caller goes away (its future is dropped) in a box that
/// outlives the program, as a workspace's exec whose HTTP client hung up:
/// the program is killed, not left running without a timer.
#[tokio::test]
async fn a_dropped_exec_kills_its_program() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let mut s = spec(
        &["/bin/sh", "-c", "sleep 100"],
        ExecLimits {
            wall_ms: 60_000,
            ..short()
        },
    );
    s.shared_box = true;
    let r = tokio::time::timeout(Duration::from_millis(500), b.exec(s)).await;
    assert!(r.is_err(), "sleep 100 ended early: {r:?}");
    gone_within(b.uid(), Duration::from_secs(1)).await;
    // The box is still usable.
    let o = sh(&b, "echo alive", ExecLimits::default()).await;
    assert_eq!(text(&o.stdout), "alive\n");
    b.destroy().await;
}

/// A slow reader gets every byte, in order: backpressure, not loss.
#[tokio::test]
async fn a_slow_reader_gets_all_the_output() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    let (tx, mut rx) = mpsc::channel::<Output>(1);
    let mut s = spec(
        &["/bin/sh", "-c", "seq 1 200000"],
        ExecLimits {
            wall_ms: 30_000,
            cpu_ms: 10_000,
            ..short()
        },
    );
    s.stream = Some(tx);
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(Output::Stdout(c)) = rx.recv().await {
            got.extend_from_slice(&c);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        got
    });
    let o = b.exec(s).await.unwrap();
    assert!(o.success(), "{o:?}");
    let got = reader.await.unwrap();
    assert_eq!(got.len(), o.stdout.len());
    assert_eq!(got, o.stdout);
    b.destroy().await;
}
