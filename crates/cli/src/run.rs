//! `kiln run`: one program, compiled and run in a fresh box, judged, printed.
//! Exit code 0 whenever the program was judged; 1 when Kiln itself failed
//! while running it (`internal_error`); 2 for bad arguments or a host that
//! cannot sandbox.
//!
//! Only the program's language is detected (one version probe, not twelve).
//! Compile results are cached in `$XDG_CACHE_HOME/kiln/compile-cache` (or
//! `~/.cache/…`; none when neither is set, or with `--no-cache`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use kiln_engine::config::COMPILE_CACHE_BYTES;
use kiln_engine::{
    Catalog, CompileCacheConfig, Engine, EngineConfig, EngineError, Limits, Report, SourceFile,
    Status, Submission,
};

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
    #[arg(long, default_value_t = Limits::default().cpu_time_ms as f64 / 1000.0)]
    time_limit: f64,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = Limits::default().memory_kb / 1024)]
    memory_limit: u64,
    /// Print exactly one JSON object with the result fields.
    #[arg(long)]
    json: bool,
    /// Compile even when this program was compiled before (and cache nothing).
    #[arg(long)]
    no_cache: bool,
    /// Source files; the first one is the entry point.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub async fn run(a: RunArgs) -> anyhow::Result<i32> {
    if !(a.time_limit > 0.0 && a.time_limit <= 3600.0) {
        bail!(
            "--time-limit must be between 0 and 3600 seconds, got {}",
            a.time_limit
        );
    }
    let mut files = Vec::new();
    for p in &a.files {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no usable file name", p.display()))?;
        if files.iter().any(|f: &SourceFile| f.name == name) {
            bail!("two files are named {name}: rename one");
        }
        files.push(SourceFile {
            name: name.to_string(),
            content: read(p, "source file")?,
        });
    }
    let cannot_tell = || {
        anyhow::anyhow!(
            "cannot tell the language of {} from its extension; pass --lang (see `kiln languages`)",
            a.files[0].display()
        )
    };
    let name = match &a.lang {
        Some(l) => l.clone(),
        None => a.files[0]
            .extension()
            .and_then(|e| e.to_str())
            .ok_or_else(cannot_tell)?
            .to_string(),
    };
    // An unknown name: every toolchain, so that the error lists them.
    let catalog = Catalog::detect_language(&name).unwrap_or_else(Catalog::detect);
    let language = match &a.lang {
        Some(l) => l.clone(),
        None => match catalog.for_file(&a.files[0]) {
            Some(l) => l.id.clone(),
            None => return Err(cannot_tell()),
        },
    };
    let cpu_ms = (a.time_limit * 1000.0).round() as u64;
    let cfg = EngineConfig {
        max_boxes: 1,
        compile_cache: (!a.no_cache).then(user_cache).flatten(),
        ..EngineConfig::default()
    };
    let limits = Limits {
        cpu_time_ms: cpu_ms,
        wall_time_ms: cpu_ms * 2 + 1000,
        memory_kb: a.memory_limit * 1024,
        ..cfg.default_limits
    };
    let max_limits = Limits {
        cpu_time_ms: cpu_ms.max(cfg.max_limits.cpu_time_ms),
        wall_time_ms: limits.wall_time_ms.max(cfg.max_limits.wall_time_ms),
        memory_kb: limits.memory_kb.max(cfg.max_limits.memory_kb),
        ..cfg.max_limits
    };
    let cfg = EngineConfig { max_limits, ..cfg };
    let sub = Submission {
        language,
        files,
        stdin: a
            .stdin
            .as_ref()
            .map(|p| read(p, "stdin file"))
            .transpose()?
            .unwrap_or_default(),
        args: Vec::new(),
        expected_output: a
            .expected
            .as_ref()
            .map(|p| read(p, "expected output file"))
            .transpose()?,
        limits,
        tests: Vec::new(),
        ..Default::default()
    };
    let engine = match Engine::with_catalog(cfg.clone(), catalog.clone()) {
        Err(EngineError::Cache(e)) => {
            eprintln!("kiln: running without the compile cache: {e}");
            let cfg = EngineConfig {
                compile_cache: None,
                ..cfg
            };
            Engine::with_catalog(cfg, catalog)
        }
        other => other,
    }
    .context("cannot start the sandbox")?;
    if let Err(e) = engine.validate(&sub) {
        bail!("{e}");
    }
    let report = engine.execute(sub).await;
    // The box is torn down in the background: wait for it (and its cgroup)
    // before this process exits.
    engine.shutdown(std::time::Duration::from_secs(10)).await;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(if report.status == Status::InternalError {
        1
    } else {
        0
    })
}

/// `kiln run`'s cache: `$XDG_CACHE_HOME/kiln/compile-cache`, else
/// `$HOME/.cache/kiln/compile-cache`, a quarter of a server's budget.
fn user_cache() -> Option<CompileCacheConfig> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = var("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(CompileCacheConfig {
        dir: Path::new(&base).join("kiln/compile-cache"),
        max_bytes: COMPILE_CACHE_BYTES / 4,
    })
}

fn print_summary(r: &Report) {
    let mem = r.memory_kb as f64 / 1024.0;
    println!(
        "status: {}  (cpu {} ms, wall {} ms, memory {mem:.1} MiB)",
        r.status, r.time_ms, r.wall_time_ms
    );
    if r.compile_cached == Some(true) {
        println!(
            "compile: cached (compiled before in {} ms of CPU)",
            r.compile_time_ms.unwrap_or(0)
        );
    }
    if let Some(m) = &r.message {
        println!("note: {}", terminal_safe(m));
    }
    match (r.exit_code, r.signal) {
        (_, Some(s)) => println!("signal: {s}"),
        (Some(c), None) if c != 0 => println!("exit code: {c}"),
        _ => {}
    }
    for (title, text) in [
        ("compile output", &r.compile_output),
        ("stdout", &r.stdout),
        ("stderr", &r.stderr),
    ] {
        if !text.is_empty() {
            println!("--- {title} ---");
            print!("{}", terminal_safe(text));
            if !text.ends_with('\n') {
                println!();
            }
        }
    }
}

/// The program's text as it may reach a person's terminal: line feeds and tabs
/// stay, every other control character (C0, DEL, C1: the starts of escape and
/// OSC sequences that clear the screen, set the clipboard or the title) and
/// the bidirectional overrides that reorder what is shown ("Trojan Source")
/// are printed as visible escapes (`\x1b`, `\r`, `\u{202e}`), never raw.
/// `--json` output is escaped by JSON itself.
pub(crate) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn control_sequences_are_shown_not_sent() {
        assert_eq!(terminal_safe("a\tb\nc"), "a\tb\nc");
        assert_eq!(terminal_safe("\x1b[2J"), "\\x1b[2J");
        assert_eq!(terminal_safe("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
        assert_eq!(terminal_safe("x\ry"), "x\\ry");
        assert_eq!(terminal_safe("\u{9b}2J\u{7f}"), "\\x9b2J\\x7f");
        assert_eq!(terminal_safe("a\u{202e}b"), "a\\u{202e}b");
        // Backslashes the program printed stay as they are.
        assert_eq!(terminal_safe("C:\\dir"), "C:\\dir");
        assert_eq!(terminal_safe("héllo ✓"), "héllo ✓");
    }
}
