//! Metric names (the server's Prometheus recorder renders them; it gives the
//! build histogram explicit buckets).

/// Gauge of workspaces, labelled `status`.
pub const WORKSPACES: &str = "kiln_workspaces";
/// Histogram of build times (create or start until the agent answers), seconds.
pub const BUILD_SECONDS: &str = "kiln_workspace_build_seconds";
/// Buckets of [`BUILD_SECONDS`].
pub const BUILD_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

pub fn describe() {
    metrics::describe_gauge!(WORKSPACES, "Workspaces on this node by status");
    metrics::describe_histogram!(
        BUILD_SECONDS,
        metrics::Unit::Seconds,
        "Time from create or start until the workspace's agent answers"
    );
}
