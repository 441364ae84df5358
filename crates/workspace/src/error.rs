//! The error type of workspace operations, with the HTTP status and stable
//! code each maps to (the server turns them into `{"error":{code,message}}`).

use kiln_sandbox::SandboxError;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A field of the request is wrong; the message names the field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// The operation is not allowed from the workspace's current status, or
    /// the name is taken.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Quota(String),
    /// This node runs as many workspaces as it may.
    #[error("{0}")]
    Capacity(String),
    /// A file inside the workspace cannot be served (a symlink, a directory…).
    #[error("{0}")]
    FileRefused(String),
    #[error("{0}")]
    FileMissing(String),
    #[error("{0}")]
    TooLarge(String),
    /// Too many transfers at once on one workspace; retry later.
    #[error("{0}")]
    Busy(String),
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = WorkspaceError> = std::result::Result<T, E>;

impl WorkspaceError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        WorkspaceError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        WorkspaceError::Invalid {
            field,
            message: message.into(),
        }
    }
}
