//! Running one phase: the open model (scheduled arrivals, a bounded number in
//! flight, late and dropped arrivals counted) and the closed model (users
//! looping, spawned at a rate). Latency is always completion − scheduled start.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::Semaphore;

use crate::client::ApiClient;
use crate::corpus::Picker;
use crate::metrics_scrape::{sample_loop, MetricSample};
use crate::progress::Progress;
use crate::scenario::{LoadModel, Phase, Spacing, Stage};
use crate::shard::Shard;
use crate::stats::{Recorder, Sample};

/// What a phase run leaves behind, before it is judged.
#[derive(Debug)]
pub struct Raw {
    pub recorder: Recorder,
    pub metrics: Vec<MetricSample>,
    /// From the phase start to the last completion.
    pub elapsed: Duration,
    pub started_at: std::time::SystemTime,
}

type Shared = Arc<Mutex<Recorder>>;

/// Runs a phase (this process's shard of it) against the client's target.
pub async fn run_phase(
    phase: &Phase,
    client: &ApiClient,
    seed: u64,
    shard: Shard,
    progress: &Progress,
) -> Raw {
    let rec: Shared = Arc::new(Mutex::new(Recorder::default()));
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let picker = Arc::new(Picker::new(
        phase.languages.clone(),
        phase.complexity.clone(),
        phase.submit.unique_sources,
    ));
    let started_at = std::time::SystemTime::now();
    let start = Instant::now() + Duration::from_millis(20);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(sample_loop(
        client.clone(),
        start,
        Duration::from_secs(1),
        metrics.clone(),
        stop_rx.clone(),
    ));
    let ticker =
        tokio::spawn((*progress).run(phase.clone(), start, rec.clone(), metrics.clone(), stop_rx));
    let cx = Arrivals {
        phase,
        client,
        rec: &rec,
        picker: &picker,
        start,
        seed,
        shard,
    };
    match &phase.load {
        LoadModel::Open {
            spacing,
            stages,
            max_in_flight,
            late_threshold,
        } => run_open(&cx, *spacing, stages, *max_in_flight, *late_threshold).await,
        LoadModel::Closed {
            users,
            spawn_rate,
            duration,
            think_time,
        } => run_closed(&cx, *users, *spawn_rate, *duration, *think_time).await,
    }
    let elapsed = Instant::now().saturating_duration_since(start);
    let _ = stop_tx.send(true);
    let _ = sampler.await;
    let _ = ticker.await;
    let recorder = std::mem::take(&mut *rec.lock().expect("recorder"));
    let metrics = std::mem::take(&mut *metrics.lock().expect("metrics"));
    Raw {
        recorder,
        metrics,
        elapsed,
        started_at,
    }
}

/// What the arrivals of a phase share.
struct Arrivals<'a> {
    phase: &'a Phase,
    client: &'a ApiClient,
    rec: &'a Shared,
    picker: &'a Arc<Picker>,
    /// When the schedule's offset 0 is.
    start: Instant,
    seed: u64,
    /// The arrivals (open) or users (closed) this process runs.
    shard: Shard,
}

/// The open model: arrivals on the schedule, at most `max_in_flight` at
/// once (an arrival with no room is dropped); waits for the last one.
async fn run_open(
    cx: &Arrivals<'_>,
    spacing: Spacing,
    stages: &[Stage],
    max_in_flight: usize,
    late_threshold: Duration,
) {
    let schedule = crate::schedule::Schedule::new(stages.to_vec(), spacing, cx.seed);
    let sem = Arc::new(Semaphore::new(max_in_flight));
    let mut rng = SmallRng::seed_from_u64(cx.seed ^ 0x5eed);
    for (k, offset) in schedule.enumerate() {
        // Every arrival is picked, in every shard, so each keeps the program
        // one whole run would have sent; and before the cap is checked, so a
        // dropped arrival has a language and level.
        let pick = cx.picker.pick(&mut rng);
        if !cx.shard.owns(k as u64) {
            continue;
        }
        let at = cx.start + offset;
        tokio::time::sleep_until(at.into()).await;
        let lateness = Instant::now().saturating_duration_since(at);
        let Ok(permit) = sem.clone().try_acquire_owned() else {
            let (l, c) = (pick.program.language, pick.program.complexity);
            cx.rec.lock().expect("recorder").dropped(offset, l, c);
            continue;
        };
        cx.rec
            .lock()
            .expect("recorder")
            .sent(offset, lateness, lateness > late_threshold);
        let (client, rec, opts) = (cx.client.clone(), cx.rec.clone(), cx.phase.submit.clone());
        tokio::spawn(async move {
            let body = ApiClient::submission_body(&pick);
            let attempt = client
                .execute(body, pick.program.expected_output, &opts)
                .await;
            let done = Instant::now();
            let sample = Sample {
                language: pick.program.language,
                complexity: pick.program.complexity,
                outcome: attempt.outcome,
                scheduled: offset,
                latency: done.saturating_duration_since(at),
                service: done.saturating_duration_since(attempt.sent_at),
                submit: attempt.submit_latency,
                stages: attempt.stages,
            };
            rec.lock().expect("recorder").record(&sample);
            drop(permit);
        });
    }
    // Everything in flight finishes within its own timeout.
    let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
    let _ = sem.acquire_many(all).await;
}

/// The closed model: `users` loop (submit, wait, think) until `duration`
/// is over, started `spawn_rate` per second.
async fn run_closed(
    cx: &Arrivals<'_>,
    users: usize,
    spawn_rate: f64,
    duration: Duration,
    think_time: Duration,
) {
    let (start, seed) = (cx.start, cx.seed);
    let deadline = start + duration;
    let mut handles = Vec::new();
    for u in (0..users).filter(|u| cx.shard.owns(*u as u64)) {
        let spawn_at = start + Duration::from_secs_f64(u as f64 / spawn_rate.max(1e-9));
        let (client, rec, opts, picker) = (
            cx.client.clone(),
            cx.rec.clone(),
            cx.phase.submit.clone(),
            cx.picker.clone(),
        );
        let think = think_time;
        handles.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed.wrapping_add(u as u64 + 1));
            tokio::time::sleep_until(spawn_at.into()).await;
            while Instant::now() < deadline {
                let pick = picker.pick(&mut rng);
                let at = Instant::now();
                let offset = at.saturating_duration_since(start);
                rec.lock()
                    .expect("recorder")
                    .sent(offset, Duration::ZERO, false);
                let attempt = client
                    .execute(
                        ApiClient::submission_body(&pick),
                        pick.program.expected_output,
                        &opts,
                    )
                    .await;
                let done = Instant::now();
                rec.lock().expect("recorder").record(&Sample {
                    language: pick.program.language,
                    complexity: pick.program.complexity,
                    outcome: attempt.outcome,
                    scheduled: offset,
                    latency: done - at,
                    service: done.saturating_duration_since(attempt.sent_at),
                    submit: attempt.submit_latency,
                    stages: attempt.stages,
                });
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
}
