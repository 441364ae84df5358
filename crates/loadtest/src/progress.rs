//! The live progress line: rewritten in place on a terminal, a plain line every
//! [`PLAIN_EVERY`] otherwise (CI logs), nothing with `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics_scrape::MetricSample;
use crate::scenario::Phase;
use crate::stats::{Percentiles, Recorder};

/// How often a plain progress line is printed when stderr is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Tty,
    Plain,
    Quiet,
}

impl Progress {
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Tty
        } else {
            Progress::Plain
        }
    }

    /// Prints a message line (not in quiet mode).
    pub fn say(&self, msg: &str) {
        if *self != Progress::Quiet {
            eprintln!("{msg}");
        }
    }

    pub async fn run(
        self,
        phase: Phase,
        start: Instant,
        rec: Arc<Mutex<Recorder>>,
        metrics: Arc<Mutex<Vec<MetricSample>>>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        if self == Progress::Quiet {
            return;
        }
        let every = if self == Progress::Tty {
            Duration::from_secs(1)
        } else {
            PLAIN_EVERY
        };
        let mut tick = tokio::time::interval_at((start + every).into(), every);
        let total = phase.load.duration().as_secs_f64();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            let t = start.elapsed().as_secs_f64();
            let line = {
                let r = rec.lock().expect("recorder");
                let last = (t as usize).checked_sub(1).and_then(|i| r.seconds.get(i));
                let rps = last.map(|s| s.sent).unwrap_or(0);
                let target = phase
                    .load
                    .target_rate_at(t - 1.0)
                    .map(|x| format!("{x:.1}"))
                    .unwrap_or_else(|| "closed".into());
                let p95 = Percentiles::of_us(&r.all.latency).p95_ms;
                let errors: u64 = r.seconds.iter().map(|s| s.errors).sum();
                let depth = metrics
                    .lock()
                    .expect("metrics")
                    .last()
                    .and_then(|m| m.queue_depth)
                    .map(|d| format!("{d:.0}"))
                    .unwrap_or_else(|| "-".into());
                format!(
                    "[{}] {:>5.0}/{:.0}s  rps {:>5}/{:<7} p95 {:>8.1} ms  done {:>7}  errors {:>5}  late {:>5}  dropped {:>5}  queue {}",
                    phase.name, t, total, rps, target, p95, r.all.count, errors, r.late, r.dropped, depth
                )
            };
            if self == Progress::Tty {
                eprint!("\r\x1b[2K{line}");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("{line}");
            }
        }
        if self == Progress::Tty {
            eprintln!();
        }
    }
}
