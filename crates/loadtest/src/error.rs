//! The tool's own errors (exit code 2). Criteria failures are not errors: they
//! are results, reported with exit code 1.

use std::path::PathBuf;

/// Everything that can stop `kiln loadtest` before it has a result to report.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// A scenario file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    ReadScenario {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A scenario file is malformed; `message` names the line, column and field.
    #[error("invalid scenario {origin}: {message}")]
    Scenario { origin: String, message: String },
    /// `--scenario NAME` is neither a built-in scenario nor an existing file.
    #[error("unknown scenario `{0}`: not a built-in ({1}) and no such file")]
    UnknownScenario(String, String),
    /// A command-line value could not be parsed.
    #[error("invalid value for {flag}: {message}")]
    BadArgument { flag: &'static str, message: String },
    /// The target URL is not a plain http://host:port URL.
    #[error("invalid target URL `{0}`: expected http://HOST:PORT[/PREFIX]")]
    BadTarget(String),
    /// Starting the embedded `kiln serve` failed.
    #[error("cannot start `kiln serve`: {0}")]
    Spawn(String),
    /// Nothing listens at the target (connection refused): failed at once.
    #[error(
        "nothing is listening at {url} (connection refused): is Kiln running there? Check --target"
    )]
    Refused { url: String },
    /// The target never answered `GET /health` with 200.
    #[error("target {url} not healthy after {waited_s:.1} s: {last}")]
    Unhealthy {
        url: String,
        waited_s: f64,
        last: String,
    },
    /// `kiln loadtest merge` was given files that are not the shards of one run.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// Writing the results directory failed.
    #[error("cannot write results to {path}: {source}")]
    WriteResults {
        path: PathBuf,
        source: std::io::Error,
    },
}
