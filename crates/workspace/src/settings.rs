//! Workspace settings: the `[workspaces]` table of `kiln serve`'s config file,
//! also `--workspaces-…` flags and `KILN_WORKSPACES_…` env vars (every one
//! optional, with these defaults), declared once with `kiln_settings::settings!`.

use std::path::PathBuf;
use std::time::Duration;

use crate::template::TemplateSpec;

kiln_settings::settings! {
    /// Workspace settings: the `[workspaces]` table of `kiln serve`'s config
    /// file, or the flags `--workspaces-…` and env vars `KILN_WORKSPACES_…`.
    #[serde(deny_unknown_fields)]
    pub struct SettingsArgs => Settings, prefix "workspaces" {
        /// Serve the workspace API at all.
        #[arg(num_args = 0..=1, default_missing_value = "true")]
        enabled: bool = true,
        /// Where homes and metadata live.
        data_dir: PathBuf => "<data-dir>/workspaces",
        /// A TOML file of `[[template]]` tables; they replace the built-in
        /// ones with the same name and add to the others.
        templates_file: PathBuf => "none: the built-in templates",
        /// Most workspaces one owner may have (any status but deleted).
        max_per_owner: usize = 1100,
        /// Most workspaces with a live box (provisioning or running) on this
        /// node; beyond, 503.
        max_workspaces: usize = 1000,
        /// A running workspace with no exec, file or terminal activity for
        /// this many seconds is stopped (0 = never).
        idle_timeout_secs: u64 = 3600,
        /// Seconds a terminal whose client went away keeps its shell for a
        /// reconnect.
        pty_grace_secs: u64 = 300,
        /// Bytes of recent terminal output replayed on reconnect.
        pty_buffer_bytes: usize = 64 * 1024,
        /// First workspace uid: workspaces get `first_uid .. first_uid +
        /// uid_count`, apart from the one-shot boxes' range (60000..64095),
        /// one per workspace for its life.
        first_uid: u32 = 100_000,
        /// How many workspace uids (see first_uid).
        uid_count: u32 = 100_000,
        /// Longest `timeout_ms` an exec may ask for.
        max_exec_timeout_ms: u64 = 600_000,
        /// Largest file a download returns, in bytes.
        max_file_bytes: u64 = 64 << 20,
        /// Homes kept formatted and mounted ahead of creation, per template
        /// home size (0: each new workspace makes its own).
        warm_homes: usize = 4,
    }
    file_only {
        /// Templates given inline, as `[[workspaces.templates]]`.
        templates: Vec<TemplateSpec> = Vec::new(),
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
            return Err(
                "workspaces.max_workspaces and workspaces.max_per_owner must be at least 1".into(),
            );
        }
        if self.uid_count == 0 || self.first_uid.checked_add(self.uid_count).is_none() {
            return Err(format!(
                "workspaces.first_uid {} + uid_count {} must be a non-empty range below 2^32",
                self.first_uid, self.uid_count
            ));
        }
        let oneshot = 60_000..64_096u32;
        if self.first_uid < oneshot.end && self.first_uid + self.uid_count > oneshot.start {
            return Err(format!(
                "workspaces uid range {}..{} overlaps the one-shot boxes' 60000..64095",
                self.first_uid,
                self.first_uid + self.uid_count
            ));
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
        let overlap = Settings {
            first_uid: 63_000,
            uid_count: 5_000,
            ..Settings::default()
        };
        assert!(overlap
            .check()
            .unwrap_err()
            .contains("overlaps the one-shot boxes"));
        let zero = Settings {
            max_workspaces: 0,
            ..Settings::default()
        };
        assert!(zero.check().is_err());
        let wrap = Settings {
            first_uid: u32::MAX - 1,
            uid_count: 10,
            ..Settings::default()
        };
        assert!(wrap.check().is_err());
    }

    #[test]
    fn the_config_table_parses_and_refuses_unknown_keys() {
        let s = toml::from_str::<SettingsArgs>("max_per_owner = 3\nidle_timeout_secs = 0\n[[templates]]\nname = \"t\"\ncpu = 1\nmemory_mb = 128\ndisk_mb = 8\n").unwrap().resolve();
        assert_eq!(s.max_per_owner, 3);
        assert_eq!(s.idle_timeout(), None);
        assert_eq!(s.templates[0].name, "t");
        assert_eq!(s.max_workspaces, 1000);
        let err = toml::from_str::<SettingsArgs>("max_workspace = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("max_workspace"),
            "names the unknown key: {err}"
        );
    }
}
