//! `kiln`: the command-line front door. Each subcommand lives in the crate
//! that owns it; this file only parses arguments and dispatches.

mod bench;
mod bench_compile_cache;
mod bench_hostile;
mod bench_workspaces;
mod languages;
mod run;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Run untrusted code in a Linux sandbox, serve it over HTTP, and load-test it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile and run a program in the sandbox, and print its verdict.
    Run(run::RunArgs),
    /// List the languages this machine can run, with their versions.
    Languages(languages::LanguagesArgs),
    /// Measure Kiln against a baseline taken in the same run.
    Bench(bench::BenchArgs),
    /// Run a load-test scenario (burst, sustained, compilation, soak, all) and judge it.
    Loadtest(kiln_loadtest::LoadtestArgs),
    /// Coder-style scale tests (create-workspaces, dashboard, workspace-traffic) against Kiln or Coder.
    Scaletest(kiln_scaletest::ScaletestArgs),
    /// Serve the code-execution HTTP API with an embedded durable queue and store.
    Serve(Box<kiln_server::ServeArgs>),
    /// Run sandbox workers on a shared Redis queue and PostgreSQL store (scale-out).
    Worker(Box<kiln_server::WorkerArgs>),
}

fn main() {
    // A sandbox helper must become one before any thread exists.
    kiln_sandbox::helper::run_if_helper();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KILN_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiln: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(async {
        let r: anyhow::Result<i32> = match cli.command {
            Command::Run(a) => run::run(a).await,
            Command::Languages(a) => languages::run(a),
            Command::Bench(a) => bench::run(a).await,
            Command::Loadtest(a) => kiln_loadtest::run(a).await,
            Command::Scaletest(a) => kiln_scaletest::run(a).await,
            Command::Serve(a) => kiln_server::serve(*a).await.map(|()| 0),
            Command::Worker(a) => kiln_server::work(*a).await.map(|()| 0),
        };
        r.unwrap_or_else(|e| {
            eprintln!("kiln: {e:#}");
            2
        })
    });
    std::process::exit(code);
}
