//! `run.json`: what one invocation set out to run (its tests, platform,
//! target, scale), written into the results directory before any test
//! starts. [`crate::validate`] reads it to judge only the criteria of the
//! tests the run covered: `--test dashboard` is not failed for missing
//! workspace results, while a test that was asked for and left no results
//! still FAILs. A directory without `run.json` (an older run) is judged on
//! every criterion.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ScaletestError;
use crate::Test;

pub const RUN_FILE: &str = "run.json";

/// The names of the tests, as `--test` spells them and as each results
/// file's `test` field records them.
pub const CREATE_WORKSPACES: &str = "create-workspaces";
pub const DASHBOARD: &str = "dashboard";
pub const WORKSPACE_TRAFFIC: &str = "workspace-traffic";

impl Test {
    /// The tests `--test` selects, in the order they run.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Test::All => &[CREATE_WORKSPACES, DASHBOARD, WORKSPACE_TRAFFIC],
            Test::CreateWorkspaces => &[CREATE_WORKSPACES],
            Test::Dashboard => &[DASHBOARD],
            Test::WorkspaceTraffic => &[WORKSPACE_TRAFFIC],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// The tests this run was asked for (not only those that finished).
    pub tests: Vec<String>,
    pub platform: String,
    pub target: String,
    pub scale: f64,
    pub run_id: String,
    pub started_at: String,
}

impl RunManifest {
    pub fn covers(&self, test: &str) -> bool {
        self.tests.iter().any(|t| t == test)
    }

    pub fn write(&self, dir: &Path) -> Result<(), ScaletestError> {
        let path = dir.join(RUN_FILE);
        let text = serde_json::to_string_pretty(self).expect("manifest serializes");
        std::fs::write(&path, text + "\n")
            .map_err(|source| ScaletestError::WriteResults { path, source })
    }

    /// `Ok(None)` when the directory has no `run.json`; an unreadable or
    /// malformed one (or one naming an unknown test) is an error.
    pub fn read(dir: &Path) -> Result<Option<Self>, ScaletestError> {
        let path = dir.join(RUN_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ScaletestError::ReadResults {
                    path,
                    message: e.to_string(),
                })
            }
        };
        let m: RunManifest =
            serde_json::from_slice(&bytes).map_err(|e| ScaletestError::ReadResults {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let known = Test::All.names();
        if let Some(t) = m.tests.iter().find(|t| !known.contains(&t.as_str())) {
            return Err(ScaletestError::ReadResults {
                path,
                message: format!("unknown test `{t}` in `tests` (expected one of {known:?})"),
            });
        }
        Ok(Some(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(tests: &[&str]) -> RunManifest {
        RunManifest {
            tests: tests.iter().map(|t| t.to_string()).collect(),
            platform: "kiln".into(),
            target: "http://127.0.0.1:1".into(),
            scale: 0.01,
            run_id: "abc123".into(),
            started_at: "2026-11-23T12:00:00Z".into(),
        }
    }

    #[test]
    fn round_trip_absent_and_malformed() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(RunManifest::read(d.path()).unwrap(), None);
        let m = manifest(Test::CreateWorkspaces.names());
        m.write(d.path()).unwrap();
        let back = RunManifest::read(d.path()).unwrap().unwrap();
        assert_eq!(back, m);
        assert!(back.covers(CREATE_WORKSPACES) && !back.covers(DASHBOARD));

        std::fs::write(d.path().join(RUN_FILE), "{\"tests\": [").unwrap();
        let e = RunManifest::read(d.path()).unwrap_err().to_string();
        assert!(e.contains(RUN_FILE), "{e}");
        manifest(&["dashbord"]).write(d.path()).unwrap();
        let e = RunManifest::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("unknown test `dashbord`"), "{e}");
    }

    #[test]
    fn all_names_every_test_in_run_order() {
        assert_eq!(
            Test::All.names(),
            [CREATE_WORKSPACES, DASHBOARD, WORKSPACE_TRAFFIC]
        );
        assert_eq!(Test::Dashboard.names(), [DASHBOARD]);
    }
}
