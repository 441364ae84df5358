//! kiln-workspace: long-lived sandboxes ("workspaces") created from
//! templates, each with a persistent home on the host, a pinned uid, exec,
//! file transfer and reconnecting terminals. `kiln serve` exposes it under
//! `/api/v1/workspaces` (see docs/workspaces.md).
//!
//! Module map:
//! - [`manager`]  — lifecycle, quotas, node capacity, the idle reaper (creating
//!   and building in `manager::create`, stop/start/delete in `manager::lifecycle`).
//! - [`inside`]   — exec, files and terminals of a running workspace.
//! - [`transfer`] — streamed downloads and uploads, bounded per workspace.
//! - [`files`]    — the file tree: list a directory, remove, rename, make a directory.
//! - [`archive`]  — tar archives of a directory, streamed both ways (format in `archive::tar`).
//! - [`pty`]      — reconnecting terminal sessions (ring buffer, grace period).
//! - [`template`] — built-in and configured templates, toolchain detection.
//! - [`model`]    — the workspace record and request/answer bodies.
//! - [`store`]    — metadata files and homes on the host.
//! - [`disk`]     — a home as its own filesystem (sparse ext4 image, loop-mounted).
//! - [`homes`]    — homes made ahead of time (a pool per home size, claimed by a rename).
//! - [`views`]    — `/proc/meminfo`, `/proc/cpuinfo` and CPU affinity that show the template.
//! - [`settings`] — the `[workspaces]` config table.
//! - [`metrics`]  — metric names and buckets.
//! - [`error`]    — the error type (the server maps it to HTTP).

// Functions stay short enough to hold in one's head (80 lines, clippy.toml).
#![warn(clippy::too_many_lines)]

pub mod archive;
pub mod disk;
pub mod error;
pub mod files;
pub mod homes;
pub mod inside;
pub mod manager;
pub mod metrics;
pub mod model;
pub mod pty;
pub mod settings;
pub mod store;
pub mod template;
pub mod transfer;
pub mod views;

pub use error::WorkspaceError;
pub use manager::{Manager, HOME};
pub use model::{CreateRequest, ExecRequest, ExecResponse, Status, Workspace};
pub use pty::{Attachment, PtySession, LIVE_CHUNKS};
pub use settings::{Settings, SettingsArgs};
pub use template::Template;
