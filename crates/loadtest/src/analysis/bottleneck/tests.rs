//! The bottleneck rules on hand-made signals.

use super::*;

fn idle() -> Signals {
    Signals {
        utilisation: Some(0.4),
        saturated: Some(0.0),
        max_depth: Some(1.0),
        queue_wait: Some((5.0, 6.0)),
        with_stages: true,
        store_share: 3.0,
        store_p95: 4.0,
        api_share: 10.0,
        api_p95: 8.0,
        queue_share: 5.0,
        submit_p95: 60.0,
        ..Default::default()
    }
}

#[test]
fn an_idle_target_reaches_no_limit_and_says_why() {
    let b = judge("p", &idle());
    assert_eq!(b.layer, None);
    assert!(
        b.summary
            .starts_with("none reached: worker utilisation 40 %"),
        "{}",
        b.summary
    );
}

#[test]
fn busy_workers_with_a_growing_queue_wait() {
    let s = Signals {
        utilisation: Some(0.97),
        saturated: Some(0.9),
        queue_wait: Some((200.0, 4000.0)),
        queue_share: 80.0,
        compile_of_occupancy: Some(71.0),
        dominant: Some(("cpp".into(), 55.0)),
        ..idle()
    };
    let b = judge("p", &s);
    assert_eq!(b.layer, Some(Layer::Workers));
    assert_eq!(
        b.summary,
        "workers: utilisation 97 % while queue wait went from 200 ms to 4.0 s; \
         compile is 71 % of service time, cpp dominant (55 % of worker time)"
    );
    // Without gauges, a dominant, growing queue wait still points at the workers.
    let blind = Signals {
        utilisation: None,
        saturated: None,
        ..s
    };
    assert_eq!(judge("p", &blind).layer, Some(Layer::Workers));
}

#[test]
fn slow_store_wins_over_the_busy_workers_it_causes() {
    let s = Signals {
        utilisation: Some(1.0),
        saturated: Some(1.0),
        store_share: 60.0,
        store_p95: 900.0,
        ..idle()
    };
    assert_eq!(judge("p", &s).layer, Some(Layer::Database));
    // A large share of tiny writes is not a slow store.
    let fast = Signals {
        store_p95: 10.0,
        utilisation: Some(0.2),
        ..s
    };
    assert_eq!(judge("p", &fast).layer, None);
}

#[test]
fn api_and_queue() {
    let api = Signals {
        api_share: 70.0,
        api_p95: 2500.0,
        ..idle()
    };
    assert_eq!(judge("p", &api).layer, Some(Layer::Api));
    let poll = Signals {
        with_stages: false,
        submit_share: Some(55.0),
        submit_p95: 400.0,
        ..idle()
    };
    assert_eq!(judge("p", &poll).layer, Some(Layer::Api));
    let queue = Signals {
        queue_share: 60.0,
        utilisation: Some(0.3),
        ..idle()
    };
    let b = judge("p", &queue);
    assert_eq!(b.layer, Some(Layer::Queue), "{}", b.summary);
}

#[test]
fn fifths_of_a_series() {
    let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
    assert_eq!(fifths(&pts), Some((0.5, 8.5)));
    assert_eq!(fifths(&pts[..4]), None);
    assert_eq!(dur(1234.0), "1.2 s");
}

#[test]
fn a_backlog_behind_busy_workers_is_the_workers_even_at_moderate_utilisation() {
    // One worker, slow compiles early on: 47 % busy over the phase, but busy
    // in every sample that saw jobs waiting.
    let s = Signals {
        utilisation: Some(0.47),
        busy_when_waiting: Some(1.0),
        queue_share: 76.0,
        queue_p95: 2300.0,
        ..idle()
    };
    let b = judge("p", &s);
    assert_eq!(b.layer, Some(Layer::Workers), "{}", b.summary);
    assert!(
        b.summary.starts_with("workers: every worker busy in 100 % of the samples with jobs waiting (utilisation 47 %"),
        "{}",
        b.summary
    );
    // Jobs waiting while workers were free: the queue itself.
    let free = Signals {
        busy_when_waiting: Some(0.1),
        ..s.clone()
    };
    assert_eq!(judge("p", &free).layer, Some(Layer::Queue));
    // In between: neither rule is sure.
    let unsure = Signals {
        busy_when_waiting: Some(0.5),
        ..s
    };
    assert_eq!(judge("p", &unsure).layer, None);
}

#[test]
fn gauges_read_busy_workers_when_jobs_wait() {
    let sample = |active: f64, depth: f64| crate::metrics_scrape::MetricSample {
        t: 0.0,
        queue_depth: Some(depth),
        active_jobs: Some(active),
        workers: Some(2.0),
    };
    let (u, all, waiting) = gauges(&[
        sample(2.0, 3.0),
        sample(2.0, 0.0),
        sample(1.0, 1.0),
        sample(0.0, 0.0),
    ]);
    assert_eq!(u, Some((1.0 + 1.0 + 0.5) / 4.0));
    assert_eq!(all, Some(0.5));
    assert_eq!(waiting, Some(0.5));
    assert_eq!(gauges(&[]), (None, None, None));
}

#[test]
fn workers_holding_jobs_between_gauge_samples_are_the_workers() {
    // kiln serve --workers 2 at 6.2 req/s × 305 ms: the gauge saw one of two
    // workers free in 40 % of the samples with jobs waiting (store writes and
    // dequeues between runs are not "active"), yet they held jobs 94 % of the time.
    let s = Signals {
        utilisation: Some(0.8),
        busy_when_waiting: Some(0.6),
        held: Some(0.94),
        queue_share: 83.0,
        queue_p95: 2900.0,
        ..idle()
    };
    let b = judge("p", &s);
    assert_eq!(b.layer, Some(Layer::Workers), "{}", b.summary);
    assert!(
        b.summary
            .starts_with("workers: workers held jobs 94 % of the time"),
        "{}",
        b.summary
    );
    // Held 75 % but no queue to speak of: no limit yet.
    let calm = Signals {
        held: Some(0.76),
        queue_share: 10.0,
        utilisation: Some(0.6),
        ..s
    };
    assert_eq!(judge("p", &calm).layer, None);
}
