//! The Redis keys of one deployment. The defaults are the load-test plan's
//! (`code-execution-jobs:container`); a prefix lets two deployments share one
//! Redis without seeing each other's jobs, workers or notifications.

/// The job stream of the default deployment (the plan's name).
pub const STREAM: &str = "code-execution-jobs:container";
/// The consumer group of the workers.
pub const GROUP: &str = "kiln-workers";
/// Jobs that ran out of attempts.
pub const DEAD_LETTER: &str = "code-execution-jobs:dead-letter";
/// Submissions that have an entry in [`STREAM`].
pub const IDS: &str = "code-execution-jobs:ids";
/// Live workers: sorted set of consumer names by last heartbeat (ms).
pub const WORKERS: &str = "code-execution-jobs:workers";
/// What each live worker said in its last heartbeat (hash by consumer name).
pub const WORKER_INFO: &str = "code-execution-jobs:worker-info";
/// Pub/sub channel of finished submissions.
pub const FINISHED: &str = "kiln:finished";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub stream: String,
    pub group: String,
    pub dead_letter: String,
    pub ids: String,
    pub workers: String,
    pub worker_info: String,
    pub finished: String,
}

impl Default for Names {
    fn default() -> Self {
        Names::with_prefix("")
    }
}

impl Names {
    /// Every key with `prefix` in front (`""`: the defaults above).
    pub fn with_prefix(prefix: &str) -> Names {
        let p = |k: &str| format!("{prefix}{k}");
        Names {
            stream: p(STREAM),
            group: p(GROUP),
            dead_letter: p(DEAD_LETTER),
            ids: p(IDS),
            workers: p(WORKERS),
            worker_info: p(WORKER_INFO),
            finished: p(FINISHED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_plans_stream_and_a_prefix_prefixes_every_key() {
        let d = Names::default();
        assert_eq!(d.stream, "code-execution-jobs:container");
        let p = Names::with_prefix("staging:");
        for (a, b) in [
            (&p.stream, &d.stream),
            (&p.group, &d.group),
            (&p.dead_letter, &d.dead_letter),
            (&p.ids, &d.ids),
            (&p.workers, &d.workers),
            (&p.worker_info, &d.worker_info),
            (&p.finished, &d.finished),
        ] {
            assert_eq!(a, &format!("staging:{b}"));
        }
    }
}
