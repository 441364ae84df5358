//! Tests of `kiln serve` over a real socket (127.0.0.1:0) with the real SQLite
//! store and queue, and a test executor standing in for the sandbox (the
//! end-to-end tests with real programs are in crates/cli/tests/serve_*.rs).

mod common;

mod api;
mod auth;
mod browser;
mod callbacks;
mod console;
mod durability;
mod errors;
mod judge0;
mod judge0_requests;
mod piston;
mod piston_connect;
mod queue;
mod redis_queue;
mod scaleout;
mod scaleout_fleet;
mod store_suite;
mod ws;
