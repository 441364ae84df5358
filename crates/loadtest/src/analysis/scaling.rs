//! What to scale: the workers needed to carry a rate at the plan's healthy
//! utilisation (60–80 %), from the measured time a worker holds a job per
//! language and a language mix — this run's, and the plan's scenarios at
//! their full rates — with and without the measured compile-cache hit rate;
//! and the M/M/c (Erlang C) queue wait expected at the recommended count.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::results::PhaseResult;
use crate::scenario::{self, LangGroup, LoadModel};

/// The plan's healthy utilisation band, and the middle the recommendation uses.
pub const UTILISATION_LOW: f64 = 0.6;
pub const UTILISATION_HIGH: f64 = 0.8;
pub const UTILISATION_TARGET: f64 = 0.7;
/// The plan's scenarios whose full rates are sized.
pub const PLAN_SCENARIOS: [&str; 4] = ["burst", "sustained", "compilation", "soak"];

/// A language's measured worker time per job.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LanguageService {
    pub language: String,
    pub count: u64,
    /// Mean time a worker held a job, at the measured cache hit rate (ms).
    pub service_ms: f64,
    /// Fraction of compiled results served by the compile cache.
    pub hit_rate: Option<f64>,
    /// Mean compile time when the compiler ran (ms).
    pub compile_miss_ms: Option<f64>,
    /// The same without a compile cache (every compile runs).
    pub service_no_cache_ms: f64,
}

/// The workers one rate needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Need {
    pub scenario: String,
    pub rate_rps: f64,
    /// Mean worker time per job of the mix (ms).
    pub service_ms: f64,
    /// Offered load: rate × service time, in busy workers.
    pub offered_load: f64,
    /// Workers at 80 %, 70 % and 60 % utilisation.
    pub workers_min: u32,
    pub workers: u32,
    pub workers_max: u32,
    /// M/M/c mean queue wait at `workers` (ms).
    pub predicted_queue_wait_ms: f64,
    /// With every compile running (no cache hits), when hits were measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers_without_cache: Option<u32>,
}

/// The scaling answer.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Recommendation {
    /// Where the service times come from.
    pub method: String,
    pub services: Vec<LanguageService>,
    /// This run's phases: their mix at their (scaled) rate and at full rate.
    pub this_run: Vec<Need>,
    /// The plan's scenarios at their full rates and mixes.
    pub plan: Vec<Need>,
    pub notes: Vec<String>,
}

/// Workers for an offered load at utilisation `rho` (at least 1).
pub fn workers_for(offered: f64, rho: f64) -> u32 {
    ((offered / rho) - 1e-9).ceil().max(1.0) as u32
}

/// Erlang C: the probability that a job waits, `c` servers, `a` Erlangs.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    if a >= c as f64 {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let c = c as f64;
    c * b / (c - a * (1.0 - b))
}

/// M/M/c mean wait in the queue (ms); infinite at or above saturation.
pub fn mmc_wait_ms(c: u32, a: f64, service_ms: f64) -> f64 {
    if a >= c as f64 {
        return f64::INFINITY;
    }
    erlang_c(c, a) * service_ms / (c as f64 - a)
}

/// Service times per language over every phase (weighted by count).
pub fn services(phases: &[PhaseResult]) -> Vec<LanguageService> {
    let mut acc: BTreeMap<String, (u64, f64, u64, u64, f64, u64)> = BTreeMap::new();
    for p in phases {
        for (lang, l) in &p.stages.by_language {
            let e = acc.entry(lang.clone()).or_default();
            let n = l.parts.count;
            e.0 += n;
            e.1 += l.parts.occupancy_ms.unwrap_or(0.0) * n as f64;
            e.2 += l.compiled;
            e.3 += l.cached;
            let misses = l.compiled - l.cached;
            e.4 += l.compile_miss_ms.unwrap_or(0.0) * misses as f64;
            e.5 += misses;
        }
    }
    acc.into_iter()
        .filter(|(_, e)| e.0 > 0)
        .map(|(language, (n, occ, compiled, cached, miss_sum, misses))| {
            let service_ms = occ / n as f64;
            let hit_rate = (compiled > 0).then(|| cached as f64 / compiled as f64);
            let compile_miss_ms = (misses > 0).then(|| miss_sum / misses as f64);
            LanguageService {
                language,
                count: n,
                service_ms,
                hit_rate,
                compile_miss_ms,
                service_no_cache_ms: service_ms
                    + hit_rate.unwrap_or(0.0) * compile_miss_ms.unwrap_or(0.0),
            }
        })
        .collect()
}

/// A mix's mean service time (ms) with and without the cache; languages
/// not measured take the measured mean and are added to `unmeasured`.
fn mix_service(
    mix: &[(String, f64)],
    services: &[LanguageService],
    unmeasured: &mut Vec<String>,
) -> (f64, f64) {
    let total: u64 = services.iter().map(|s| s.count).sum();
    let mean = |f: fn(&LanguageService) -> f64| {
        services.iter().map(|s| f(s) * s.count as f64).sum::<f64>() / total.max(1) as f64
    };
    let (fallback, fallback_nc) = (mean(|s| s.service_ms), mean(|s| s.service_no_cache_ms));
    let (mut w, mut s, mut snc) = (0.0, 0.0, 0.0);
    for (lang, weight) in mix {
        let (x, y) = match services.iter().find(|s| &s.language == lang) {
            Some(m) => (m.service_ms, m.service_no_cache_ms),
            None => {
                if !unmeasured.contains(lang) {
                    unmeasured.push(lang.clone());
                }
                (fallback, fallback_nc)
            }
        };
        w += weight;
        s += weight * x;
        snc += weight * y;
    }
    if w <= 0.0 {
        return (fallback, fallback_nc);
    }
    (s / w, snc / w)
}

/// The need of one rate and mix.
pub fn need(scenario: &str, rate: f64, service_ms: f64, no_cache_ms: Option<f64>) -> Need {
    let offered = rate * service_ms / 1000.0;
    let workers = workers_for(offered, UTILISATION_TARGET);
    Need {
        scenario: scenario.to_owned(),
        rate_rps: rate,
        service_ms,
        offered_load: offered,
        workers_min: workers_for(offered, UTILISATION_HIGH),
        workers,
        workers_max: workers_for(offered, UTILISATION_LOW),
        predicted_queue_wait_ms: mmc_wait_ms(workers, offered, service_ms),
        workers_without_cache: no_cache_ms
            .filter(|nc| *nc > service_ms * 1.001)
            .map(|nc| workers_for(rate * nc / 1000.0, UTILISATION_TARGET)),
    }
}

/// The highest scheduled rate of a load model (None for a closed model).
pub fn peak_rate(load: &LoadModel) -> Option<f64> {
    match load {
        LoadModel::Open { stages, .. } => stages.iter().map(|s| s.from.max(s.to)).reduce(f64::max),
        LoadModel::Closed { .. } => None,
    }
}

/// A scenario phase's language mix, "others" spread evenly.
pub fn plan_mix(languages: &[(LangGroup, f64)]) -> Vec<(String, f64)> {
    languages
        .iter()
        .flat_map(|(g, w)| {
            let ls = g.languages();
            ls.iter()
                .map(move |l| ((*l).to_owned(), w / ls.len() as f64))
        })
        .collect()
}

/// The recommendation of a run (`scale` as given to `--scale`).
pub fn recommend(phases: &[PhaseResult], scale: f64) -> Recommendation {
    let mut services = services(phases);
    let mut method = "time a worker held each job (the results' stages: running mark, compile, run, result write, notice)".to_owned();
    let mut unmeasured = Vec::new();
    if services.is_empty() {
        match little(phases) {
            Some(s) => {
                method = "Little's law on the worker gauges: mean active jobs ÷ throughput (no stages in the results)".into();
                services.push(LanguageService {
                    language: "all".into(),
                    count: phases.iter().map(|p| p.completed).sum(),
                    service_ms: s,
                    hit_rate: None,
                    compile_miss_ms: None,
                    service_no_cache_ms: s,
                });
            }
            None => {
                method = "no stages and no worker gauges: cannot size the workers".into();
                return Recommendation {
                    method,
                    ..Default::default()
                };
            }
        }
    }
    let mut this_run = Vec::new();
    for p in phases {
        let mix: Vec<(String, f64)> = p
            .by_language
            .iter()
            .map(|(k, b)| (k.clone(), b.count as f64))
            .collect();
        let (s, nc) = mix_service(&mix, &services, &mut unmeasured);
        let rate = peak_rate(&p.load).unwrap_or(p.achieved_rps);
        this_run.push(need(&p.name, rate, s, Some(nc)));
        if (scale - 1.0).abs() > 1e-9 && scale > 0.0 {
            this_run.push(need(
                &format!("{} at full rate", p.name),
                rate / scale,
                s,
                Some(nc),
            ));
        }
    }
    let mut plan = Vec::new();
    for name in PLAN_SCENARIOS {
        let Ok(scn) = scenario::load(name) else {
            continue;
        };
        for ph in &scn.phases {
            let Some(rate) = peak_rate(&ph.load) else {
                continue;
            };
            let (s, nc) = mix_service(&plan_mix(&ph.languages), &services, &mut unmeasured);
            plan.push(need(&ph.name, rate, s, Some(nc)));
        }
    }
    Recommendation {
        method,
        services,
        this_run,
        plan,
        notes: (!unmeasured.is_empty())
            .then(|| {
                format!(
                    "not measured by this run, so given the measured mean worker time: {}",
                    unmeasured.join(", ")
                )
            })
            .into_iter()
            .collect(),
    }
}

/// Mean worker time per job by Little's law: busy workers ÷ throughput (ms).
fn little(phases: &[PhaseResult]) -> Option<f64> {
    let mut busy = 0.0;
    let mut done = 0.0;
    for p in phases {
        let a: Vec<f64> = p.metrics.iter().filter_map(|m| m.active_jobs).collect();
        if a.is_empty() || p.achieved_rps <= 0.0 {
            continue;
        }
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        busy += mean * p.elapsed_s;
        done += p.achieved_rps * p.elapsed_s;
    }
    (done > 0.0 && busy > 0.0).then(|| 1000.0 * busy / done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_in_the_healthy_band() {
        // 100 req/s × 210 ms = 21 busy workers: 27 at 80 %, 30 at 70 %, 35 at 60 %.
        let n = need("x", 100.0, 210.0, Some(300.0));
        assert!((n.offered_load - 21.0).abs() < 1e-9);
        assert_eq!((n.workers_min, n.workers, n.workers_max), (27, 30, 35));
        assert_eq!(n.workers_without_cache, Some(43));
        assert_eq!(
            need("x", 100.0, 210.0, Some(210.0)).workers_without_cache,
            None
        );
        assert_eq!(workers_for(0.0, 0.7), 1);
        assert_eq!(workers_for(7.0, 0.7), 10);
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // M/M/1: P(wait) = ρ; M/M/2 at a = 1: 1/3.
        assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // M/M/1 at ρ = 0.5, S = 100 ms: Wq = ρ S / (1 - ρ) = 100 ms.
        assert!((mmc_wait_ms(1, 0.5, 100.0) - 100.0).abs() < 1e-9);
        assert_eq!(mmc_wait_ms(2, 2.0, 100.0), f64::INFINITY);
    }

    #[test]
    fn mixes_spread_others_and_fill_unmeasured_languages() {
        let mix = plan_mix(&[(LangGroup::Python, 40.0), (LangGroup::Others, 5.0)]);
        assert_eq!(mix.len(), 6);
        assert_eq!(mix[1].1, 1.0);
        let services = vec![
            LanguageService {
                language: "python".into(),
                count: 3,
                service_ms: 100.0,
                hit_rate: None,
                compile_miss_ms: None,
                service_no_cache_ms: 100.0,
            },
            LanguageService {
                language: "cpp".into(),
                count: 1,
                service_ms: 300.0,
                hit_rate: Some(0.5),
                compile_miss_ms: Some(400.0),
                service_no_cache_ms: 500.0,
            },
        ];
        let mut unmeasured = Vec::new();
        let (s, nc) = mix_service(
            &[
                ("python".into(), 1.0),
                ("cpp".into(), 1.0),
                ("go".into(), 2.0),
            ],
            &services,
            &mut unmeasured,
        );
        // go takes the measured mean: (3×100 + 300)/4 = 150.
        assert!((s - (100.0 + 300.0 + 2.0 * 150.0) / 4.0).abs() < 1e-9);
        assert!((nc - (100.0 + 500.0 + 2.0 * 200.0) / 4.0).abs() < 1e-9);
        assert_eq!(unmeasured, ["go"]);
    }

    #[test]
    fn the_plans_scenarios_have_rates() {
        for name in PLAN_SCENARIOS {
            let scn = scenario::load(name).unwrap();
            assert!(
                scn.phases.iter().all(|p| peak_rate(&p.load).is_some()),
                "{name}"
            );
        }
    }
}
