//! Workspace settings: the `[workspaces]` table of `kiln serve`'s config file
//! (every key optional, with these defaults).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::template::TemplateSpec;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Serve the workspace API at all.
    pub enabled: bool,
    /// Where homes and metadata live [default: `<data_dir>/workspaces`].
    pub data_dir: Option<PathBuf>,
    /// A TOML file of `[[template]]` tables; they replace the built-in ones
    /// with the same name and add to the others.
    pub templates_file: Option<PathBuf>,
    /// Templates given inline, as `[[workspaces.templates]]`.
    pub templates: Vec<TemplateSpec>,
    /// Most workspaces one owner may have (any status but deleted).
    pub max_per_owner: usize,
    /// Most workspaces with a live box (provisioning or running) on this node; beyond, 503.
    pub max_workspaces: usize,
    /// A running workspace with no exec, file or terminal activity for this
    /// long is stopped (0 = never).
    pub idle_timeout_secs: u64,
    /// How long a terminal whose client went away keeps its shell for a reconnect.
    pub pty_grace_secs: u64,
    /// Output of recent terminal output replayed on reconnect, in bytes.
    pub pty_buffer_bytes: usize,
    /// Workspace uids: `first_uid .. first_uid + uid_count`, apart from the
    /// one-shot boxes' range (60000..64095), one per workspace for its life.
    pub first_uid: u32,
    pub uid_count: u32,
    /// Longest `timeout_ms` an exec may ask for.
    pub max_exec_timeout_ms: u64,
    /// Largest file a download returns.
    pub max_file_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            data_dir: None,
            templates_file: None,
            templates: Vec::new(),
            max_per_owner: 1100,
            max_workspaces: 1000,
            idle_timeout_secs: 3600,
            pty_grace_secs: 300,
            pty_buffer_bytes: 64 * 1024,
            first_uid: 100_000,
            uid_count: 100_000,
            max_exec_timeout_ms: 600_000,
            max_file_bytes: 64 << 20,
        }
    }
}

impl Settings {
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }

    pub fn pty_grace(&self) -> Duration {
        Duration::from_secs(self.pty_grace_secs)
    }

    pub fn check(&self) -> Result<(), String> {
        if self.max_workspaces == 0 || self.max_per_owner == 0 {
            return Err("workspaces.max_workspaces and workspaces.max_per_owner must be at least 1".into());
        }
        if self.uid_count == 0 || self.first_uid.checked_add(self.uid_count).is_none() {
            return Err(format!("workspaces.first_uid {} + uid_count {} must be a non-empty range below 2^32", self.first_uid, self.uid_count));
        }
        let oneshot = 60_000..64_096u32;
        if self.first_uid < oneshot.end && self.first_uid + self.uid_count > oneshot.start {
            return Err(format!("workspaces uid range {}..{} overlaps the one-shot boxes' 60000..64095", self.first_uid, self.first_uid + self.uid_count));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_ranges_are_refused() {
        assert!(Settings::default().check().is_ok());
        let overlap = Settings { first_uid: 63_000, uid_count: 5_000, ..Settings::default() };
        assert!(overlap.check().unwrap_err().contains("overlaps the one-shot boxes"));
        let zero = Settings { max_workspaces: 0, ..Settings::default() };
        assert!(zero.check().is_err());
        let wrap = Settings { first_uid: u32::MAX - 1, uid_count: 10, ..Settings::default() };
        assert!(wrap.check().is_err());
    }

    #[test]
    fn the_config_table_parses_and_refuses_unknown_keys() {
        let s: Settings = toml::from_str("max_per_owner = 3\nidle_timeout_secs = 0\n[[templates]]\nname = \"t\"\ncpu = 1\nmemory_mb = 128\ndisk_mb = 8\n").unwrap();
        assert_eq!(s.max_per_owner, 3);
        assert_eq!(s.idle_timeout(), None);
        assert_eq!(s.templates[0].name, "t");
        assert_eq!(s.max_workspaces, 1000);
        assert!(toml::from_str::<Settings>("max_workspace = 3\n").is_err());
    }
}
