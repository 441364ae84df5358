//! The workspace record as the API shows it and the store keeps it, and the
//! request and answer bodies of create and exec.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Deleting,
    Deleted,
    Failed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Provisioning,
        Status::Running,
        Status::Stopping,
        Status::Stopped,
        Status::Deleting,
        Status::Deleted,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Provisioning => "provisioning",
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Deleting => "deleting",
            Status::Deleted => "deleted",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Holds (or is about to hold) a box on this node.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            Status::Provisioning | Status::Running | Status::Stopping
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Connecting,
    Connected,
    Disconnected,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    pub status: AgentStatus,
    pub ready_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub step: String,
    pub duration_ms: u64,
}

/// The last build (create or start): when, how long, and each step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Build {
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub timings: Vec<Timing>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub template: String,
    pub owner: String,
    pub status: Status,
    pub parameters: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: String,
    pub error: Option<String>,
    pub build: Build,
    pub agent: Agent,
    /// The uid the workspace's programs run as, for its whole life.
    pub uid: u32,
}

/// `POST /api/v1/workspaces`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub name: String,
    pub template: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// A command as an argv array, or a string run with `sh -c`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Command {
    Argv(Vec<String>),
    Shell(String),
}

/// `POST /api/v1/workspaces/{id}/exec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    pub command: Command,
    #[serde(default)]
    pub stdin: String,
    pub timeout_ms: Option<u64>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecResponse {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall_time_ms: u64,
    pub timed_out: bool,
    /// Output past the cap was cut (and the program stopped).
    pub output_truncated: bool,
}

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn now() -> String {
    timestamp(SystemTime::now())
}

/// A workspace or template name: 1-63 characters of `a-z`, `0-9`, `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::invalid(
            "name",
            format!("{name:?} must be 1 to 63 characters of a-z, 0-9 and -"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "scaletest-abc-1", &"x".repeat(63)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "a_b", "a b", "ü", &"x".repeat(64)] {
            let e = check_name(bad).unwrap_err();
            assert!(e.to_string().starts_with("name:"), "{e}");
        }
    }

    #[test]
    fn commands_are_arrays_or_strings() {
        let r: ExecRequest =
            serde_json::from_str(r#"{"command":["sh","-c","echo hi"],"timeout_ms":10}"#).unwrap();
        assert!(matches!(r.command, Command::Argv(ref a) if a.len() == 3));
        let r: ExecRequest = serde_json::from_str(r#"{"command":"echo hi"}"#).unwrap();
        assert!(matches!(r.command, Command::Shell(ref s) if s == "echo hi"));
        assert!(serde_json::from_str::<ExecRequest>(r#"{"command":"x","bogus":1}"#).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(Status::parse("bogus").is_none());
    }
}
