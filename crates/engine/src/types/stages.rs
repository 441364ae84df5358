//! Where one submission's time went, stage by stage ([`Stages`]): the
//! `stages` object of a result. The server fills it (the engine only runs the
//! job); every field is in milliseconds and `null` when that stage was not
//! measured (a result stored before stages existed, a result written by
//! another process for the last two fields).

use serde::{Deserialize, Serialize};

/// A submission's stages, in the order they happen. Their sum is the
/// server's share of the end-to-end latency: the client adds its network and
/// (when polling) its poll interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    /// The API stored the submission: from its acceptance (after validation)
    /// until the job was handed to the queue.
    #[serde(default)]
    pub accept_ms: Option<u64>,
    /// In the queue: from the enqueue until a worker took the job.
    #[serde(default)]
    pub queue_ms: Option<u64>,
    /// The worker's `running` mark: one store write.
    #[serde(default)]
    pub start_write_ms: Option<u64>,
    /// The compile step's wall time; 0 on a compile-cache hit (no compiler
    /// ran) and for a language without a compile step.
    #[serde(default)]
    pub compile_ms: Option<u64>,
    /// The rest of the engine's work: sandbox set-up, every test's run,
    /// judging (the engine's whole time minus `compile_ms`).
    #[serde(default)]
    pub run_ms: Option<u64>,
    /// Writing the result to the store (durable before anyone can read it).
    #[serde(default)]
    pub result_write_ms: Option<u64>,
    /// From the durable result to its waiters being told: the queue's
    /// acknowledgement and the notice to `?wait=true` requests, WebSockets and
    /// the callback sender.
    #[serde(default)]
    pub notify_ms: Option<u64>,
}

impl Stages {
    /// The stages as (name, value) pairs, in order: the names of the
    /// `code_execution_stage_seconds{stage}` label and of the JSON fields
    /// without `_ms`.
    pub fn named(&self) -> [(&'static str, Option<u64>); 7] {
        [
            ("accept", self.accept_ms),
            ("queue", self.queue_ms),
            ("start_write", self.start_write_ms),
            ("compile", self.compile_ms),
            ("run", self.run_ms),
            ("result_write", self.result_write_ms),
            ("notify", self.notify_ms),
        ]
    }

    /// The sum of the measured stages.
    pub fn total_ms(&self) -> u64 {
        self.named().iter().filter_map(|(_, v)| *v).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_fields_and_missing_fields_read_as_null() {
        let s = Stages {
            queue_ms: Some(5),
            run_ms: Some(7),
            ..Default::default()
        };
        assert_eq!(s.total_ms(), 12);
        let json = serde_json::to_value(s).unwrap();
        for (name, v) in s.named() {
            assert_eq!(json[format!("{name}_ms")], serde_json::json!(v), "{name}");
        }
        let back: Stages = serde_json::from_str(r#"{"queue_ms":5}"#).unwrap();
        assert_eq!(back.queue_ms, Some(5));
        assert_eq!(back.run_ms, None);
    }
}
