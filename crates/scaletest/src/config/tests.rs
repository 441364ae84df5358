use super::*;

#[test]
fn defaults_are_the_seeds_parameters() {
    let c = Config::parse("{}", "t").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(
        (
            c.create_workspaces.pod.count,
            c.create_workspaces.pod.concurrency
        ),
        (700, 100)
    );
    assert_eq!(c.create_workspaces.pod.timeout.0, Duration::from_secs(300));
    assert_eq!(
        (
            c.create_workspaces.ec2.count,
            c.create_workspaces.ec2.concurrency
        ),
        (300, 50)
    );
    assert_eq!(c.create_workspaces.ec2.timeout.0, Duration::from_secs(600));
    assert_eq!(
        (c.dashboard.concurrency, c.dashboard.duration.0),
        (50, Duration::from_secs(300))
    );
    assert_eq!(c.workspace_traffic.bytes_per_tick, 1024);
    assert_eq!(
        c.workspace_traffic.tick_interval.0,
        Duration::from_millis(100)
    );
    assert_eq!(c.workspace_traffic.duration.0, Duration::from_secs(600));
}

#[test]
fn sample_file_parses_and_equals_the_defaults() {
    let text = include_str!("../../../../scaletest-config.yaml");
    assert_eq!(Config::parse(text, "sample").unwrap(), Config::default());
}

#[test]
fn short_sample_keeps_the_counts_and_shortens_the_phases() {
    let text = include_str!("../../../../examples/scaletest-short.yaml");
    let c = Config::parse(text, "short sample").unwrap();
    let d = Config::default();
    assert_eq!(c.create_workspaces, d.create_workspaces);
    assert_eq!(c.dashboard.duration.0, Duration::from_secs(60));
    assert_eq!(c.workspace_traffic.duration.0, Duration::from_secs(120));
    assert_eq!(
        c.workspace_traffic.bytes_per_tick,
        d.workspace_traffic.bytes_per_tick
    );
}

#[test]
fn partial_sections_keep_other_defaults() {
    let c = Config::parse(
        "create_workspaces:\n  pod: {template: p, count: 3, concurrency: 0, timeout: 30s}\ndashboard:\n  duration: 10s\n",
        "t",
    )
    .unwrap();
    assert_eq!(c.create_workspaces.pod.count, 3);
    assert_eq!(c.create_workspaces.pod.concurrency, 0);
    assert_eq!(c.create_workspaces.ec2.count, 300);
    assert_eq!(c.dashboard.duration.0, Duration::from_secs(10));
    assert_eq!(c.dashboard.concurrency, 50);
}

#[test]
fn unknown_key_is_named() {
    let e = Config::parse("dashboard:\n  concurency: 5\n", "cfg.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("concurency") && e.contains("cfg.yaml"), "{e}");
    let e = Config::parse("workspace_trafic: {}\n", "cfg.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workspace_trafic"), "{e}");
}

#[test]
fn bad_values_are_named() {
    let e = Config::parse("workspace_traffic: {tick_interval: soon}\n", "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("soon") || e.contains("tick_interval"), "{e}");
    let e = Config::parse("workspace_traffic: {bytes_per_tick: 0}\n", "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workspace_traffic.bytes_per_tick"), "{e}");
    let e = Config::parse(
        "create_workspaces: {pod: {template: '', count: 1, concurrency: 1, timeout: 1s}}",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("create_workspaces.pod.template"), "{e}");
}

#[test]
fn scale_multiplies_counts_concurrency_and_durations_only() {
    let c = Config::default().scaled(0.01);
    assert_eq!(
        (
            c.create_workspaces.pod.count,
            c.create_workspaces.pod.concurrency
        ),
        (7, 1)
    );
    assert_eq!(
        (
            c.create_workspaces.ec2.count,
            c.create_workspaces.ec2.concurrency
        ),
        (3, 1)
    );
    assert_eq!(c.dashboard.concurrency, 1);
    assert_eq!(c.dashboard.duration.0, Duration::from_secs(3));
    assert_eq!(c.workspace_traffic.duration.0, Duration::from_secs(6));
    // Per-job properties stay.
    assert_eq!(c.create_workspaces.pod.timeout.0, Duration::from_secs(300));
    assert_eq!(c.workspace_traffic.bytes_per_tick, 1024);
    assert_eq!(
        c.workspace_traffic.tick_interval.0,
        Duration::from_millis(100)
    );
    assert_eq!(c.dashboard.think_time.0, Duration::from_secs(1));
    // 0 (= unlimited) stays 0; tiny scales keep at least one.
    assert_eq!(c.workspace_traffic.concurrency, 0);
    assert_eq!(
        Config::default().scaled(0.0001).create_workspaces.pod.count,
        1
    );
    assert_eq!(
        Config::default().scaled(2.0).create_workspaces.pod.count,
        1400
    );
}

#[test]
fn durations_print_like_go() {
    assert_eq!(fmt_dur(Duration::from_millis(1500)), "1.500s");
    assert_eq!(fmt_dur(Duration::from_secs(90)), "1m30s");
    assert_eq!(fmt_dur(Duration::from_millis(250)), "250ms");
    assert_eq!(fmt_dur(Duration::from_secs(3600)), "1h");
}
