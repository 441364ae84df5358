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

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            WorkspaceError::Invalid { .. } | WorkspaceError::FileRefused(_) => 400,
            WorkspaceError::Quota(_) => 403,
            WorkspaceError::NotFound(_) | WorkspaceError::FileMissing(_) => 404,
            WorkspaceError::Conflict(_) => 409,
            WorkspaceError::TooLarge(_) => 413,
            WorkspaceError::Busy(_) => 429,
            WorkspaceError::Capacity(_) => 503,
            WorkspaceError::Sandbox(_) | WorkspaceError::Io { .. } | WorkspaceError::Config(_) => {
                500
            }
        }
    }

    /// The stable snake_case code of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            WorkspaceError::Invalid { .. } => "invalid_field",
            WorkspaceError::NotFound(_) | WorkspaceError::FileMissing(_) => "not_found",
            WorkspaceError::Conflict(_) => "conflict",
            WorkspaceError::Quota(_) => "quota_exceeded",
            WorkspaceError::Capacity(_) => "at_capacity",
            WorkspaceError::FileRefused(_) => "file_refused",
            WorkspaceError::TooLarge(_) => "too_large",
            WorkspaceError::Busy(_) => "too_many_transfers",
            WorkspaceError::Sandbox(_) | WorkspaceError::Io { .. } | WorkspaceError::Config(_) => {
                "internal_error"
            }
        }
    }
}
