//! The results directory `loadtest-results/<timestamp>/`: `results.json`,
//! `timeseries.csv`, `summary-report.md`, a self-contained `report.html`, and
//! Locust's `results_stats.csv` ([`compat`]), and `histograms.json`
//! ([`crate::merge`]).

pub mod compat;
mod console;
mod csv;
mod html;
mod markdown;

use std::path::{Path, PathBuf};

use crate::error::LoadtestError;
use crate::results::RunResult;

pub use crate::timestamp::{dir_stamp, rfc3339};
pub use console::print_summary;
pub use csv::timeseries_csv;
pub use html::report_html;
pub use markdown::summary_markdown;

/// Writes the four files into `dir` (created if needed).
pub fn write_all(dir: &Path, run: &RunResult) -> Result<(), LoadtestError> {
    let io = |path: PathBuf| {
        move |source| LoadtestError::WriteResults {
            path: path.clone(),
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir.to_owned()))?;
    let files: [(&str, String); 6] = [
        (
            "results.json",
            serde_json::to_string_pretty(run).expect("results serialise"),
        ),
        ("timeseries.csv", timeseries_csv(run)),
        ("summary-report.md", summary_markdown(run)),
        ("report.html", report_html(run)),
        ("results_stats.csv", compat::locust_stats_csv(run)),
        (crate::merge::HIST_FILE, crate::merge::hist_file(run)),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content).map_err(io(path.clone()))?;
    }
    Ok(())
}

/// Formats an optional number for tables.
pub(crate) fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// The banner of a run at another scale than the plan's.
pub(crate) fn scale_banner(run: &RunResult) -> Option<String> {
    ((run.scale - 1.0).abs() > 1e-9).then(|| {
        format!(
            "scale {}: not a plan-size result (arrival rates, users and the achieved-rate target × {})",
            run.scale, run.scale
        )
    })
}

/// An outcome key of `results.json` in words.
pub(crate) fn outcome_label(key: &str) -> String {
    match key {
        "success" => "success (accepted, expected output)".into(),
        "compilation_error" => "compilation error".into(),
        "internal_error" => "internal error (Kiln failed)".into(),
        "timeout" => "no result within the timeout".into(),
        "transport_error" => {
            "transport error (connection refused or reset, unreadable answer)".into()
        }
        "dropped" => "dropped at the in-flight cap".into(),
        k => match (k.strip_prefix("http_"), k.strip_prefix("wrong_verdict:")) {
            (Some(code), _) => format!("HTTP {code}"),
            (_, Some(v)) => format!("wrong verdict: {}", v.replace('_', " ")),
            _ => k.to_owned(),
        },
    }
}

/// A failure indicator in words: whether it was seen, what, and the figure.
pub(crate) fn indicator_line(i: &crate::results::Indicator) -> String {
    format!(
        "{}: {} ({})",
        if i.triggered { "SEEN" } else { "not seen" },
        i.name,
        i.detail
    )
}
