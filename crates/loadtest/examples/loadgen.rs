//! `kiln loadtest` without the rest of the `kiln` binary (for benchmarks and
//! for working on the generator alone): same arguments, same exit codes.
//! `cargo run --release -p kiln-loadtest --example loadgen -- --scenario smoke --target http://127.0.0.1:3000`

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: kiln_loadtest::LoadtestArgs,
}

fn main() {
    let cli = Cli::parse();
    let threads = std::env::var("LOADGEN_THREADS")
        .ok()
        .and_then(|t| t.parse().ok());
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = threads {
        rt.worker_threads(t);
    }
    let code = rt
        .build()
        .expect("runtime")
        .block_on(kiln_loadtest::run(cli.args))
        .unwrap_or(2);
    std::process::exit(code);
}
