//! Where a submission's time went ([`kiln_engine::Stages`]): the stages the
//! worker measures, the `code_execution_stage_seconds{stage}` histogram, and
//! [`Tails`], the last two stages (the result write and the notice), which
//! happen after the result is stored and so are kept in this process's
//! memory for its views of recent results.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use kiln_engine::{Report, Stages};

use crate::metrics::STAGE_SECONDS;

/// How many recent results keep their last two stages.
pub const TAILS_KEPT: usize = 4096;

/// What the worker measured before it wrote the result.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub created_at_ms: i64,
    pub enqueued_at_ms: i64,
    pub started_at_ms: i64,
    pub start_write: Duration,
    /// The engine's whole time (`None` when the job did not run).
    pub engine: Option<Duration>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The stages known before the result is written.
pub fn before_write(m: &Measured, report: &Report) -> Stages {
    let gap = |a: i64, b: i64| (b - a).max(0) as u64;
    let compile_ms = m.engine.map(|_| match report.compile_cached {
        Some(true) => 0,
        _ => report.compile_wall_time_ms.unwrap_or(0),
    });
    Stages {
        accept_ms: Some(gap(m.created_at_ms, m.enqueued_at_ms)),
        queue_ms: Some(gap(m.enqueued_at_ms, m.started_at_ms)),
        start_write_ms: Some(ms(m.start_write)),
        compile_ms,
        run_ms: m
            .engine
            .map(|e| ms(e).saturating_sub(compile_ms.unwrap_or(0))),
        result_write_ms: None,
        notify_ms: None,
    }
}

/// Records every measured stage in `code_execution_stage_seconds{stage}`.
pub fn record(stages: &Stages) {
    for (name, v) in stages.named() {
        if let Some(v) = v {
            metrics::histogram!(STAGE_SECONDS, "stage" => name).record(v as f64 / 1000.0);
        }
    }
}

/// Result write and notice (ms) by id, and the ids oldest first.
type Kept = (HashMap<String, (u64, u64)>, VecDeque<String>);

/// The result write and the notice of recent results written by this
/// process's workers, the oldest forgotten first.
#[derive(Debug, Default)]
pub struct Tails {
    inner: Mutex<Kept>,
}

impl Tails {
    /// Keeps `id`'s last two stages.
    pub fn put(&self, id: &str, result_write: Duration, notify: Duration) {
        let mut g = self.inner.lock().expect("stage tails");
        let (map, order) = &mut *g;
        if map
            .insert(id.to_owned(), (ms(result_write), ms(notify)))
            .is_none()
        {
            order.push_back(id.to_owned());
        }
        while order.len() > TAILS_KEPT {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    /// Fills in `id`'s last two stages when this process still knows them.
    pub fn fill(&self, id: &str, stages: &mut Option<Stages>) {
        let Some(s) = stages.as_mut() else { return };
        let g = self.inner.lock().expect("stage tails");
        if let Some(&(write, notify)) = g.0.get(id) {
            s.result_write_ms = Some(write);
            s.notify_ms = Some(notify);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_from_timestamps_and_the_report() {
        let mut r = Report::internal_error("x");
        r.compile_wall_time_ms = Some(300);
        let m = Measured {
            created_at_ms: 1_000,
            enqueued_at_ms: 1_004,
            started_at_ms: 1_504,
            start_write: Duration::from_millis(2),
            engine: Some(Duration::from_millis(450)),
        };
        let s = before_write(&m, &r);
        assert_eq!(
            (s.accept_ms, s.queue_ms, s.start_write_ms),
            (Some(4), Some(500), Some(2))
        );
        assert_eq!((s.compile_ms, s.run_ms), (Some(300), Some(150)));
        // A cache hit ran no compiler: its compile time is that of the entry.
        r.compile_cached = Some(true);
        let s = before_write(&m, &r);
        assert_eq!((s.compile_ms, s.run_ms), (Some(0), Some(450)));
        // Not run (dead-lettered): no engine stages.
        let s = before_write(&Measured { engine: None, ..m }, &r);
        assert_eq!((s.compile_ms, s.run_ms), (None, None));
    }

    #[test]
    fn tails_fill_known_results_and_forget_the_oldest() {
        let t = Tails::default();
        for i in 0..=TAILS_KEPT {
            t.put(
                &format!("id{i}"),
                Duration::from_millis(3),
                Duration::from_millis(1),
            );
        }
        let mut s = Some(Stages::default());
        t.fill("id0", &mut s);
        assert_eq!(s.unwrap().result_write_ms, None, "the oldest is forgotten");
        t.fill(&format!("id{TAILS_KEPT}"), &mut s);
        assert_eq!(
            (s.unwrap().result_write_ms, s.unwrap().notify_ms),
            (Some(3), Some(1))
        );
        let mut none = None;
        t.fill("id1", &mut none);
        assert_eq!(none, None, "a result without stages stays without");
    }
}
