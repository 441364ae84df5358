//! `kiln run`: one program, compiled and run in a fresh box, judged, printed.
//! Exit code 0 whenever the program was judged; 1 when Kiln itself failed
//! while running it (`internal_error`); 2 for bad arguments or a host that
//! cannot sandbox.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use kiln_engine::{Engine, EngineConfig, Limits, Report, SourceFile, Status, Submission};

#[derive(Args)]
pub struct RunArgs {
    /// Language id or alias (python, js, c, cpp, java, rust, go, …); default: from the first file's extension.
    #[arg(long = "lang")]
    lang: Option<String>,
    /// File whose content is the program's standard input.
    #[arg(long)]
    stdin: Option<PathBuf>,
    /// File with the expected output: a different output is `wrong_answer`.
    #[arg(long)]
    expected: Option<PathBuf>,
    /// CPU time limit in seconds (the wall-clock limit is twice that plus one second).
    #[arg(long, default_value_t = 5.0)]
    time_limit: f64,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = 256)]
    memory_limit: u64,
    /// Print exactly one JSON object with the result fields.
    #[arg(long)]
    json: bool,
    /// Source files; the first one is the entry point.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub async fn run(a: RunArgs) -> anyhow::Result<i32> {
    if !(a.time_limit > 0.0 && a.time_limit <= 3600.0) {
        bail!("--time-limit must be between 0 and 3600 seconds, got {}", a.time_limit);
    }
    let mut files = Vec::new();
    for p in &a.files {
        let name = p.file_name().and_then(|n| n.to_str()).with_context(|| format!("{} has no usable file name", p.display()))?;
        if files.iter().any(|f: &SourceFile| f.name == name) {
            bail!("two files are named {name}: rename one");
        }
        files.push(SourceFile { name: name.to_string(), content: read(p, "source file")? });
    }
    let catalog = kiln_lang::Catalog::detect();
    let language = match &a.lang {
        Some(l) => l.clone(),
        None => match catalog.for_file(&a.files[0]) {
            Some(l) => l.id.clone(),
            None => bail!("cannot tell the language of {} from its extension; pass --lang (see `kiln languages`)", a.files[0].display()),
        },
    };
    let cpu_ms = (a.time_limit * 1000.0).round() as u64;
    let cfg = EngineConfig { max_boxes: 1, ..EngineConfig::default() };
    let limits = Limits {
        cpu_time_ms: cpu_ms,
        wall_time_ms: cpu_ms * 2 + 1000,
        memory_kb: a.memory_limit * 1024,
        ..cfg.default_limits
    };
    let max_limits = Limits { cpu_time_ms: cpu_ms.max(cfg.max_limits.cpu_time_ms), wall_time_ms: limits.wall_time_ms.max(cfg.max_limits.wall_time_ms), memory_kb: limits.memory_kb.max(cfg.max_limits.memory_kb), ..cfg.max_limits };
    let cfg = EngineConfig { max_limits, ..cfg };
    let sub = Submission {
        language,
        files,
        stdin: a.stdin.as_ref().map(|p| read(p, "stdin file")).transpose()?.unwrap_or_default(),
        args: Vec::new(),
        expected_output: a.expected.as_ref().map(|p| read(p, "expected output file")).transpose()?,
        limits,
        tests: Vec::new(),
    };
    let engine = Engine::with_catalog(cfg, catalog).context("cannot start the sandbox")?;
    if let Err(e) = engine.validate(&sub) {
        bail!("{e}");
    }
    let report = engine.execute(sub).await;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(if report.status == Status::InternalError { 1 } else { 0 })
}

fn print_summary(r: &Report) {
    let mem = r.memory_kb as f64 / 1024.0;
    println!("status: {}  (cpu {} ms, wall {} ms, memory {mem:.1} MiB)", r.status, r.time_ms, r.wall_time_ms);
    if let Some(m) = &r.message {
        println!("note: {m}");
    }
    match (r.exit_code, r.signal) {
        (_, Some(s)) => println!("signal: {s}"),
        (Some(c), None) if c != 0 => println!("exit code: {c}"),
        _ => {}
    }
    for (title, text) in [("compile output", &r.compile_output), ("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if !text.is_empty() {
            println!("--- {title} ---");
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
}
