//! kiln-server: `kiln serve`, the code-execution HTTP API with an embedded,
//! durable queue and store.
//!
//! Module map:
//! - [`config`]: every setting declared once (flag, `KILN_…` env var, TOML key,
//!   default), grouped by who needs it; `ServeArgs`, the TOML config file,
//!   and the resolved [`config::Config`] (flags > env > file > defaults).
//! - [`error`]: [`error::ApiError`], the one JSON error shape `{"error":{code,message}}`.
//! - [`model`]: the API's request and response bodies, and their validation
//!   into an engine `Submission`.
//! - [`executor`]: the [`executor::Executor`] trait the workers call; implemented
//!   for `kiln_engine::Engine`, and by test executors.
//! - [`store`]: the [`store::Store`] trait (submissions and their results), its
//!   SQLite implementation and the PostgreSQL one (versioned migrations).
//! - [`queue`]: the [`queue::Queue`] trait (bounded, leased jobs), its SQLite
//!   implementation in the same database file and the Redis Streams one
//!   (consumer group, `XAUTOCLAIM` of expired leases, dead-letter stream).
//! - [`sqlite`]: opening the embedded database (WAL) and its schema.
//! - [`backends`]: which store, queue and notifier a server runs on (embedded by
//!   default; Redis + PostgreSQL for scale-out, with the lost-job sweeper).
//! - [`worker`]: the in-process workers: lease, run, finish exactly once, ack.
//! - [`stages`]: a submission's stage timings (accept … notify), their
//!   histogram, and the last two stages of recent results kept in memory.
//! - [`worker_node`]: `kiln worker`, workers on the shared backends with only
//!   `/health` and `/metrics`.
//! - [`notify`]: the [`notify::Notifier`] trait ("submission finished", for `wait=true`),
//!   in-process and over Redis pub/sub.
//! - [`callback`]: `callback_url` checks (no private addresses unless allowed) and delivery.
//! - [`auth`]: API keys, admin keys, the one ownership rule.
//! - [`ratelimit`]: token buckets per key (per client address with keys off),
//!   `RateLimit-*` headers.
//! - [`browser`]: CORS allow-list and the `Origin` check of WebSocket upgrades.
//! - [`metrics`]: the Prometheus recorder, the plan's metric names, HTTP timings.
//! - [`routes`]: the HTTP handlers and the router; [`ws`]: the interactive WebSocket run.
//! - [`judge0`]: the Judge0 CE 1.13.1 dialect at the root (`/submissions`,
//!   `/languages`, …), through the same validator and queue (docs/judge0.md).
//! - [`piston`]: the Piston API v2 dialect (`/api/v2/…`), translated into Kiln's
//!   submissions and through the one validator (docs/piston.md).
//! - [`openapi`]: the OpenAPI document served at `/openapi.json`.
//! - [`app`]: [`app::App`], the running server: wiring, startup recovery, drain.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod backends;
pub mod browser;
pub mod callback;
pub mod config;
pub mod error;
pub mod executor;
pub mod judge0;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod openapi;
pub mod piston;
pub mod queue;
pub mod ratelimit;
pub mod routes;
pub mod sqlite;
pub mod stages;
pub mod store;
pub mod worker;
pub mod worker_node;
pub mod ws;

pub use app::{serve, serve_with_executor, App};
pub use backends::Backends;
pub use config::{Config, ServeArgs};
pub use executor::Executor;
pub use worker_node::{work, work_with_executor, WorkerArgs};

/// Milliseconds since the Unix epoch: the one clock of the store and the queue.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
