//! What a run was asked to do, apart from where: the scenario and every
//! option that shapes its schedule and its judging. `run` resolves the
//! scenario from it, `results.json` and `histograms.json` record it, and
//! `merge` resolves the same scenario again from the shards' records.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadtestError;
use crate::scenario::{self, LoadModel, Overrides, Scenario, SubmitMode};
use crate::LoadtestArgs;

/// The options of a run that decide its schedule and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// A built-in scenario's name or a TOML file's path.
    pub scenario: String,
    pub scale: Option<f64>,
    pub duration_s: Option<f64>,
    pub mode: Option<SubmitMode>,
    pub unique_sources: Option<bool>,
    pub users: Option<usize>,
    pub spawn_rate: Option<f64>,
    pub max_in_flight: Option<usize>,
    pub timeout_s: Option<f64>,
    pub late_threshold_s: Option<f64>,
    pub max_late_fraction: f64,
    pub seed: u64,
}

impl RunSpec {
    pub fn of(a: &LoadtestArgs) -> Self {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        RunSpec {
            scenario: a.scenario.clone(),
            scale: a.scale,
            duration_s: secs(a.duration),
            mode: a.mode,
            unique_sources: match (a.unique_sources, a.reuse_sources) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            users: a.users,
            spawn_rate: a.spawn_rate,
            max_in_flight: a.max_in_flight,
            timeout_s: secs(a.timeout),
            late_threshold_s: secs(a.late_threshold),
            max_late_fraction: a.max_late_fraction,
            seed: a.seed,
        }
    }

    /// The scenario with every override applied.
    pub fn scenario(&self) -> Result<Scenario, LoadtestError> {
        let mut scn = scenario::load(&self.scenario)?;
        if let Some(s) = self.scale {
            if !(s.is_finite() && s > 0.0) {
                return Err(LoadtestError::BadArgument {
                    flag: "--scale",
                    message: format!("{s} must be > 0"),
                });
            }
        }
        let dur = |s: Option<f64>| s.map(Duration::from_secs_f64);
        scn.apply(&Overrides {
            scale: self.scale,
            duration: dur(self.duration_s),
            mode: self.mode,
            unique_sources: self.unique_sources,
            max_in_flight: self.max_in_flight,
            timeout: dur(self.timeout_s),
            late_threshold: dur(self.late_threshold_s),
        });
        if let Some(users) = self.users {
            for p in &mut scn.phases {
                let duration = p.load.duration();
                p.load = LoadModel::Closed {
                    users,
                    spawn_rate: self.spawn_rate.unwrap_or(users as f64),
                    duration,
                    think_time: Duration::ZERO,
                };
            }
        }
        Ok(scn)
    }
}
