//! The TOML config file: the same keys as the flags (`_` for `-`), the
//! workspace settings in the table `[workspaces]`. It parses into the very
//! layers the flags fill; a key that no setting has is refused, named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::settings::{ApiArgs, BackendArgs, JobArgs, LimitArgs, WorkerNodeArgs};
use super::ConfigError;

/// Every layer of a config file (a key left out is `None`).
#[derive(Debug, Clone, Default)]
pub struct FileLayers {
    pub backend: BackendArgs,
    pub jobs: JobArgs,
    pub limits: LimitArgs,
    pub api: ApiArgs,
    pub worker: WorkerNodeArgs,
    pub workspaces: kiln_workspace::SettingsArgs,
}

/// The `[workspaces]` table (its struct refuses unknown keys itself).
#[derive(serde::Deserialize)]
struct WorkspacesTable {
    #[serde(default)]
    workspaces: kiln_workspace::SettingsArgs,
}

/// The settings of the file at `path`, `FileLayers::default()` for none.
pub fn read(path: Option<&Path>) -> Result<FileLayers, ConfigError> {
    let Some(path) = path else {
        return Ok(FileLayers::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Each group reads its keys from the same text (so errors keep their line),
/// then every top-level key must belong to one of them.
pub fn parse(text: &str, path: &Path) -> Result<FileLayers, ConfigError> {
    let table: toml::Table = group(text, path)?;
    let known: BTreeSet<String> = flat_keys()
        .into_iter()
        .chain(["workspaces".to_string()])
        .collect();
    if let Some(key) = table.keys().find(|k| !known.contains(*k)) {
        return Err(ConfigError::UnknownKey {
            path: path.to_path_buf(),
            key: key.clone(),
        });
    }
    Ok(FileLayers {
        backend: group(text, path)?,
        jobs: group(text, path)?,
        limits: group(text, path)?,
        api: group(text, path)?,
        worker: group(text, path)?,
        workspaces: group::<WorkspacesTable>(text, path)?.workspaces,
    })
}

/// The keys of the top level of the file: those of the groups without a prefix.
pub fn flat_keys() -> Vec<String> {
    [
        BackendArgs::settings(),
        JobArgs::settings(),
        LimitArgs::settings(),
        ApiArgs::settings(),
        WorkerNodeArgs::settings(),
    ]
    .concat()
    .into_iter()
    .map(|s| s.key)
    .collect()
}

fn group<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|source| ConfigError::Parse {
        path: PathBuf::from(path),
        source,
    })
}
