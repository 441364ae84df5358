//! The plan's three post-test questions, answered from the measurements:
//! did we meet the SLOs, where is the bottleneck, what to scale.
//!
//! Module map:
//! - [`stages`]: each submission's stages (Kiln's result `stages`) beside
//!   the client's view; the decomposition into API, queue, compile, run and
//!   store per phase, per second and per language, with percentiles.
//! - [`bottleneck`]: the rules that name the limiting layer of a phase
//!   (API, queue, workers, database) with their evidence, or none.
//! - [`scaling`]: workers needed at 60–80 % utilisation from the measured
//!   worker time per language, for this run's mix and the plan's full rates,
//!   with and without the compile-cache hit rate; Erlang C.
//! - [`sweep`]: `kiln loadtest --sweep`: rising rates (the knee) or worker
//!   counts of an embedded target (the best concurrency per worker).
//! - [`render`]: the "Answers" section of `summary-report.md` and `report.html`.

pub mod bottleneck;
pub mod render;
pub mod scaling;
pub mod stages;
pub mod sweep;

use serde::Serialize;

use crate::results::PhaseResult;

pub use bottleneck::{Bottleneck, Layer};
pub use scaling::Recommendation;
pub use stages::{Decomposition, StageRow, StageSample};

/// The answers of a run, at the top of every report and of `results.json`.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Answers {
    /// Every criterion passed, no failure indicator, the generator kept up.
    pub slos_met: bool,
    /// What failed, one line each ("`burst`: P95 latency 4.2 s, target < 3 s").
    pub slo_failures: Vec<String>,
    /// The limiting layer of each phase.
    pub bottlenecks: Vec<Bottleneck>,
    pub recommendation: Recommendation,
    /// The concurrency per worker that maximised throughput, when a sweep
    /// of worker counts measured it.
    pub concurrency: Option<String>,
}

/// Answers the three questions for the phases of a run.
pub fn answer(phases: &[PhaseResult], scale: f64) -> Answers {
    Answers {
        slos_met: !phases.is_empty() && phases.iter().all(|p| p.passed && !p.generator.overloaded),
        slo_failures: phases.iter().flat_map(slo_failures).collect(),
        bottlenecks: phases
            .iter()
            .map(|p| bottleneck::judge(&p.name, &bottleneck::Signals::of(p)))
            .collect(),
        recommendation: scaling::recommend(phases, scale),
        concurrency: None,
    }
}

fn slo_failures(p: &PhaseResult) -> Vec<String> {
    let mut out: Vec<String> = p
        .criteria
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let measured = c
                .measured
                .map(|m| format!("{m:.3} {}", c.unit))
                .unwrap_or_else(|| "not measured".into());
            format!(
                "`{}`: {} {measured}, target {}",
                p.name,
                c.label,
                c.target_text()
            )
        })
        .collect();
    out.extend(
        p.indicators
            .iter()
            .filter(|i| i.triggered)
            .map(|i| format!("`{}`: failure indicator {}: {}", p.name, i.name, i.detail)),
    );
    if p.generator.overloaded {
        out.push(format!(
            "`{}`: the generator was overloaded (late {:.1} %, dropped {:.1} %): the figures do not describe the target",
            p.name,
            100.0 * p.generator.late_fraction,
            100.0 * p.generator.dropped_fraction
        ));
    }
    out
}
