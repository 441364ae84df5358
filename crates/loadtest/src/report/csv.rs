//! `timeseries.csv`: one row per phase and second.

use crate::report::opt;
use crate::results::RunResult;

pub fn timeseries_csv(run: &RunResult) -> String {
    let mut out = String::from(
        "phase,second,target_rps,sent,late,dropped,completed,success,errors,p50_ms,p90_ms,p95_ms,p99_ms,max_ms,queue_depth,active_jobs,workers\n",
    );
    for p in &run.phases {
        for s in &p.seconds {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                p.name,
                s.second,
                opt(s.target_rps, 3),
                s.sent,
                s.late,
                s.dropped,
                s.completed,
                s.success,
                s.errors,
                s.p50_ms,
                s.p90_ms,
                s.p95_ms,
                s.p99_ms,
                s.max_ms,
                opt(s.queue_depth, 0),
                opt(s.active_jobs, 0),
                opt(s.workers, 0),
            ));
        }
    }
    out.replace(",n/a", ",")
}
