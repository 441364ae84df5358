//! `kiln`: the command-line front door. Each subcommand lives in the crate
//! that owns it; this file only parses arguments and dispatches.

mod bench;
mod bench_assets;
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
    /// Log lines as `text` (for people) or `json` (one object per line, for
    /// log collectors). Which lines: `RUST_LOG` (or `KILN_LOG`) filters, e.g.
    /// `info`, `warn,kiln::access=info`; default `warn` plus the access log of
    /// `kiln serve` and `kiln worker`.
    #[arg(long, global = true, env = "KILN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The log filter: `KILN_LOG`, else `RUST_LOG`, else `default`. A filter that
/// does not parse is said on stderr and the default is used.
fn log_filter(default: &str) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    for var in ["KILN_LOG", "RUST_LOG"] {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
                Ok(f) => return f,
                Err(e) => eprintln!("kiln: ignoring {var}={v:?}: {e}; using {default:?}"),
            },
            _ => {}
        }
    }
    EnvFilter::new(default)
}

fn init_logging(format: LogFormat, service: bool) {
    use std::io::IsTerminal;
    let default = if service {
        "warn,kiln::access=info"
    } else {
        "warn"
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter(default))
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or a collector.
        .with_ansi(format == LogFormat::Text && std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
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
    Loadtest(Box<kiln_loadtest::LoadtestCli>),
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
    let service = matches!(cli.command, Command::Serve(_) | Command::Worker(_));
    init_logging(cli.log_format, service);
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
            Command::Loadtest(a) => kiln_loadtest::main(*a).await,
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
