//! `kiln loadtest --dry-run`: the schedule a run would follow — phases,
//! stages and rates, the exact number of arrivals for the seed, the mixes,
//! the criteria and the total duration — printed without sending anything.

use std::fmt::Write;

use crate::scenario::{LoadModel, Phase, Scenario};
use crate::schedule::Schedule;

fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

fn mix<K: std::fmt::Debug>(items: &[(K, f64)]) -> String {
    let total: f64 = items.iter().map(|(_, w)| w).sum::<f64>().max(1e-9);
    items
        .iter()
        .map(|(k, w)| {
            format!(
                "{} {:.0} %",
                format!("{k:?}").to_lowercase(),
                100.0 * w / total
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The arrivals of an open phase this process would send: all of them, or
/// its shard's share.
fn arrivals(p: &Phase, seed: u64, keep: &dyn Fn(u64) -> bool) -> Option<u64> {
    let LoadModel::Open {
        stages, spacing, ..
    } = &p.load
    else {
        return None;
    };
    let n = Schedule::new(stages.clone(), *spacing, seed)
        .enumerate()
        .filter(|(i, _)| keep(*i as u64))
        .count();
    Some(n as u64)
}

fn phase_text(out: &mut String, p: &Phase, seed: u64, keep: &dyn Fn(u64) -> bool) {
    let _ = write!(out, "phase `{}`: ", p.name);
    match &p.load {
        LoadModel::Open {
            spacing,
            stages,
            max_in_flight,
            late_threshold,
        } => {
            let n = arrivals(p, seed, keep).unwrap_or(0);
            let _ = writeln!(
                out,
                "open model, {spacing:?} spacing, {}, {n} arrivals (seed {seed}), at most {max_in_flight} in flight, late after {}",
                secs(p.load.duration()),
                secs(*late_threshold)
            );
            let mut t = 0.0;
            for (i, s) in stages.iter().enumerate() {
                let d = s.duration.as_secs_f64();
                let _ = writeln!(
                    out,
                    "  stage {}: {:.0}–{:.0} s, {:.2} → {:.2} req/s, ~{:.0} arrivals",
                    i + 1,
                    t,
                    t + d,
                    s.from,
                    s.to,
                    (s.from + s.to) / 2.0 * d
                );
                t += d;
            }
        }
        LoadModel::Closed {
            users,
            spawn_rate,
            duration,
            think_time,
        } => {
            let _ = writeln!(
                out,
                "closed model, {users} users started {spawn_rate:.1}/s, {}, think time {}",
                secs(*duration),
                secs(*think_time)
            );
        }
    }
    let _ = writeln!(out, "  languages: {}", mix(&p.languages));
    let _ = writeln!(out, "  complexity: {}", mix(&p.complexity));
    let _ = writeln!(
        out,
        "  submit: {:?}, timeout {}, unique sources {}",
        p.submit.mode,
        secs(p.submit.timeout),
        p.submit.unique_sources
    );
    for c in &p.criteria {
        let target = c.target.map(|t| format!(" {t}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  criterion: {} {}{target}",
            c.display_label(),
            c.op.symbol()
        );
    }
}

/// The plan of `scn` with the run's seed; `keep(i)` says whether arrival
/// `i` of an open phase is this process's (every one, without `--shard`).
pub fn plan(scn: &Scenario, seed: u64, scale: f64, keep: &dyn Fn(u64) -> bool) -> String {
    let mut out = format!(
        "kiln loadtest --dry-run: scenario `{}` ({} phase(s)), scale {scale}, seed {seed}; nothing is sent\n",
        scn.name,
        scn.phases.len()
    );
    for (i, p) in scn.phases.iter().enumerate() {
        if i > 0 && !scn.gap.is_zero() {
            let _ = writeln!(out, "pause {}", secs(scn.gap));
        }
        phase_text(&mut out, p, seed.wrapping_add(i as u64), keep);
    }
    let _ = writeln!(
        out,
        "total: {} (phases and pauses; each phase then waits for its last submission)",
        secs(scn.total_duration())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_plan_counts_every_arrival() {
        let s = crate::scenario::load("burst").unwrap();
        let text = plan(&s, 1, 1.0, &|_| true);
        let exact = arrivals(&s.phases[0], 1, &|_| true).unwrap();
        assert!((exact as i64 - 1000).abs() < 100, "{exact}");
        assert!(
            text.contains(&format!("{exact} arrivals (seed 1)")),
            "{text}"
        );
        assert!(text.contains("phase `burst`"), "{text}");
        assert!(text.contains("criterion:"), "{text}");
        let all = crate::scenario::load("all").unwrap();
        let text = plan(&all, 1, 1.0, &|_| true);
        assert_eq!(text.matches("\npause ").count(), 3, "{text}");
    }
}
