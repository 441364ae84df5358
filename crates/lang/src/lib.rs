//! kiln-lang: the language catalogue.
//!
//! What each language needs to compile and run inside a Kiln box, and which of
//! them the host can actually run. No sandboxing happens here: the engine takes
//! a [`Language`] and hands its argv, env and mounts to the sandbox.
//!
//! Module map:
//! - [`language`]: the [`Language`], [`Mount`] and [`Missing`] records (serde),
//!   and the compiler speed-up ([`Accel`]) a toolchain supports.
//! - [`template`]: argv templates and their placeholders ([`ExpandContext`]).
//! - `builtin`: the static table of the twelve known languages (commands, aliases,
//!   packages, process needs).
//! - `detect`: probes the host for each toolchain (binary lookup and the rustup
//!   sysroot in `detect::tools`, version commands run with a timeout in
//!   `detect::command`) and turns specs into languages.
//! - [`catalog`]: [`Catalog`] — lookup by id, alias or file extension.
//! - `render`: `kiln languages` output, as a table or JSON
//!   ([`Catalog::render_table`], [`Catalog::to_json`]).
//! - [`testdata`]: paths of the per-language test programs in `testdata/`.
#![forbid(unsafe_code)]
// Functions stay short enough to hold in one's head (80 lines, clippy.toml).
#![warn(clippy::too_many_lines)]

mod builtin;
pub mod catalog;
mod detect;
pub mod language;
mod render;
pub mod template;
pub mod testdata;

pub use builtin::BUILTIN_IDS;
pub use catalog::Catalog;
pub use language::{Accel, Language, Missing, Mount};
pub use template::ExpandContext;
