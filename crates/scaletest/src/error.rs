//! The tool's own errors (exit code 2) and the errors of one platform call.
//! A failed workspace build is not a tool error: it is a failed run in the
//! results, reported with exit code 1.

use std::path::PathBuf;

/// Everything that stops `kiln scaletest` before it has results to report.
#[derive(Debug, thiserror::Error)]
pub enum ScaletestError {
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Malformed YAML, an unknown key or a bad value; `message` names the key.
    #[error("invalid config {origin}: {message}")]
    Config { origin: String, message: String },
    #[error("invalid value for {flag}: {message}")]
    BadArgument { flag: &'static str, message: String },
    /// The target could not be prepared (health, user, template lookup).
    #[error("target {target}: {source}")]
    Target {
        target: String,
        source: PlatformError,
    },
    #[error("cannot write results to {path}: {source}")]
    WriteResults {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read results {path}: {message}")]
    ReadResults { path: PathBuf, message: String },
}

/// One failed call to the platform under test (Kiln or Coder).
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl PlatformError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PlatformError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
