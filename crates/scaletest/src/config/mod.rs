//! `scaletest-config.yaml`: the seed's three sections (`create_workspaces`,
//! `dashboard`, `workspace_traffic`), their defaults (the seed's parameters)
//! and `--scale`.
//!
//! Unknown keys are refused (`deny_unknown_fields`), so a typo is an error
//! naming the key instead of a silently ignored setting.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ScaletestError;

/// A duration written like `5m`, `100ms`, `1h30m` (the loadtest's syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        kiln_measure::duration::parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_dur(self.0))
    }
}

/// `1h2m3.5s`-style text of a duration (Go's `time.Duration` style, as Coder prints).
pub fn fmt_dur(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if rest > 0 || out.is_empty() {
        if rest % 1000 == 0 {
            out.push_str(&format!("{}s", rest / 1000));
        } else if h == 0 && m == 0 && rest < 1000 {
            out.push_str(&format!("{rest}ms"));
        } else {
            out.push_str(&format!("{:.3}s", rest as f64 / 1000.0));
        }
    }
    out
}

/// One group of workspaces created from one template (the seed's pod and EC2 runs).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceGroup {
    /// Template name (`pod-swdev`, `ec2-datasci`).
    pub template: String,
    /// How many workspaces to create.
    pub count: usize,
    /// Most creations in flight at once; 0 = all at once (Coder's meaning).
    pub concurrency: usize,
    /// Per-job timeout: from the create request to build finished and agent ready.
    pub timeout: Dur,
}

/// `create_workspaces:` — the provisioning test (criteria 14.6, 14.7, 14.11).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreateWorkspaces {
    /// Results in `pod-workspaces.json`.
    pub pod: WorkspaceGroup,
    /// Results in `ec2-workspaces.json`.
    pub ec2: WorkspaceGroup,
    /// Whole-run timeout of one group (jobs still running then fail).
    pub run_timeout: Dur,
    /// How often a building workspace is polled.
    pub poll_interval: Dur,
    /// Most deletions in flight during cleanup; 0 = all at once.
    pub cleanup_concurrency: usize,
    /// Per-workspace cleanup timeout.
    pub cleanup_timeout: Dur,
}

impl Default for CreateWorkspaces {
    fn default() -> Self {
        CreateWorkspaces {
            pod: WorkspaceGroup {
                template: "pod-swdev".into(),
                count: 700,
                concurrency: 100,
                timeout: Dur(Duration::from_secs(300)),
            },
            ec2: WorkspaceGroup {
                template: "ec2-datasci".into(),
                count: 300,
                concurrency: 50,
                timeout: Dur(Duration::from_secs(600)),
            },
            run_timeout: Dur(Duration::from_secs(3600)),
            poll_interval: Dur(Duration::from_secs(1)),
            cleanup_concurrency: 50,
            cleanup_timeout: Dur(Duration::from_secs(300)),
        }
    }
}

/// `dashboard:` — simulated users browsing the API (criteria 14.9, 14.10).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dashboard {
    /// Simulated users browsing at once.
    pub concurrency: usize,
    /// How long they browse.
    pub duration: Dur,
    /// Pause between two page views of one user …
    pub think_time: Dur,
    /// … plus a uniformly random extra pause in `0..=jitter`.
    pub jitter: Dur,
    /// Timeout of one request (a timed-out request counts as an error).
    pub request_timeout: Dur,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            concurrency: 50,
            duration: Dur(Duration::from_secs(300)),
            think_time: Dur(Duration::from_secs(1)),
            jitter: Dur(Duration::from_millis(500)),
            request_timeout: Dur(Duration::from_secs(30)),
        }
    }
}

/// `workspace_traffic:` — terminal traffic into every running scaletest workspace.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceTraffic {
    /// Random printable bytes written per tick (the last one a newline).
    pub bytes_per_tick: usize,
    /// Time between two ticks.
    pub tick_interval: Dur,
    /// How long each workspace receives traffic.
    pub duration: Dur,
    /// `true`: the sink echoes its input (`dd` to the terminal), so reads
    /// measure the round trip; `false`: input is discarded (Coder's default).
    pub echo: bool,
    /// Most workspaces connected at once; 0 = all at once.
    pub concurrency: usize,
}

impl Default for WorkspaceTraffic {
    fn default() -> Self {
        WorkspaceTraffic {
            bytes_per_tick: 1024,
            tick_interval: Dur(Duration::from_millis(100)),
            duration: Dur(Duration::from_secs(600)),
            echo: false,
            concurrency: 0,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub create_workspaces: CreateWorkspaces,
    pub dashboard: Dashboard,
    pub workspace_traffic: WorkspaceTraffic,
}

fn scale_count(n: usize, f: f64) -> usize {
    if n == 0 {
        0
    } else {
        ((n as f64 * f).round() as usize).max(1)
    }
}

fn scale_dur(d: Dur, f: f64) -> Dur {
    Dur(Duration::from_secs_f64((d.0.as_secs_f64() * f).max(0.001)))
}

impl Config {
    /// Parses YAML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScaletestError> {
        let cfg: Config = serde_norway::from_str(text).map_err(|e| ScaletestError::Config {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        cfg.check(origin)?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ScaletestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScaletestError::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn check(&self, origin: &str) -> Result<(), ScaletestError> {
        let bad = |field: &str, message: &str| {
            Err(ScaletestError::Config {
                origin: origin.into(),
                message: format!("{field}: {message}"),
            })
        };
        for (key, g) in [
            ("create_workspaces.pod", &self.create_workspaces.pod),
            ("create_workspaces.ec2", &self.create_workspaces.ec2),
        ] {
            if g.template.trim().is_empty() {
                return bad(&format!("{key}.template"), "must name a template");
            }
            if g.timeout.0.is_zero() {
                return bad(&format!("{key}.timeout"), "must be > 0");
            }
        }
        if self.create_workspaces.poll_interval.0.is_zero() {
            return bad("create_workspaces.poll_interval", "must be > 0");
        }
        if self.workspace_traffic.bytes_per_tick == 0 {
            return bad("workspace_traffic.bytes_per_tick", "must be ≥ 1");
        }
        if self.workspace_traffic.tick_interval.0.is_zero() {
            return bad("workspace_traffic.tick_interval", "must be > 0");
        }
        Ok(())
    }

    /// `--scale F`: multiplies every workspace count, every concurrency
    /// (0 stays 0 = unlimited), the dashboard's users and duration and the
    /// traffic duration. Counts round to the nearest integer and stay ≥ 1.
    /// Timeouts, poll interval, think time, bytes per tick and tick interval
    /// are NOT scaled: they are properties of one job, not of the load.
    pub fn scaled(&self, f: f64) -> Config {
        let mut c = self.clone();
        for g in [&mut c.create_workspaces.pod, &mut c.create_workspaces.ec2] {
            g.count = scale_count(g.count, f);
            g.concurrency = scale_count(g.concurrency, f);
        }
        c.create_workspaces.cleanup_concurrency =
            scale_count(c.create_workspaces.cleanup_concurrency, f);
        c.dashboard.concurrency = scale_count(c.dashboard.concurrency, f);
        c.dashboard.duration = scale_dur(c.dashboard.duration, f);
        c.workspace_traffic.duration = scale_dur(c.workspace_traffic.duration, f);
        c.workspace_traffic.concurrency = scale_count(c.workspace_traffic.concurrency, f);
        c
    }
}

#[cfg(test)]
mod tests;
