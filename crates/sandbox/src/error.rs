//! One error type for the sandbox, with a variant per failing layer.

use std::path::PathBuf;

/// What went wrong while preparing, using or tearing down a box.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox layer `{layer}` could not be set up: {message}")]
    Layer { layer: String, message: String },
    #[error("cgroup file {path}: {source}")]
    Cgroup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no usable cgroup hierarchy: {0} (Kiln needs cgroup v1 with memory, pids, cpuacct and freezer, or cgroup v2 with memory and pids delegated, writable by the user Kiln runs as)")]
    NoCgroups(String),
    #[error("sandbox helper could not be started ({program}): {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox control channel: {0}")]
    Channel(String),
    #[error("the box rejected the request: {0}")]
    Rejected(String),
    #[error("the box is gone (its init exited or was killed)")]
    Gone,
    /// A request too big for one packet; nothing was sent.
    #[error("{kind} request of {size} bytes is too large for the box's control channel (limit {limit} bytes; an exec carries at most {max_strings} bytes of argv, env and cwd together): make it smaller")]
    TooLarge {
        kind: &'static str,
        size: usize,
        limit: usize,
        max_strings: usize,
    },
    /// The box did not answer in time; it has been killed.
    #[error("the box did not answer a {kind} request within {after:?}; it was killed (a box that stops answering is treated as gone)")]
    Unanswered {
        kind: &'static str,
        after: std::time::Duration,
    },
    #[error("no free sandbox uid in {first}..{last}: too many boxes at once")]
    NoUid { first: u32, last: u32 },
    #[error(
        "uid {0} is held by another live box; a workspace's uid must be free before its box starts"
    )]
    UidInUse(u32),
    #[error("sandbox needs root on the host (running as uid {0} with KILN_USER_NAMESPACES=off); run `kiln` as root, or unset it for the rootless mode")]
    NotRoot(u32),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn layer(layer: &str, message: impl std::fmt::Display) -> Self {
        SandboxError::Layer {
            layer: layer.to_string(),
            message: message.to_string(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
