//! The compile step of a submission and its cache: what the compile box is
//! fed (one [`CompilePlan`], used both to run the compiler and to key the
//! cache, so a key always names exactly what ran), the rule for which files
//! of the box are the compile's artifacts, and how a compile's outcome
//! becomes the report's compile facts (or its `compilation_error`).

use std::collections::HashSet;

use kiln_lang::{ExpandContext, Language};
use kiln_sandbox::{ExecLimits, ExecOutcome, FileKind, LimitHit, SandboxBox, SandboxConfig};

use crate::cache::{Artifact, Entry, Key, KeyInputs};
use crate::judge::verdict;
use crate::types::{output_text, Limits, Report, SourceFile, Status, Submission};

/// Most files a compile may leave for its result to be cached.
pub const MAX_ARTIFACTS: u32 = 4096;

/// The mode bits an artifact may have to be cached: a box's file is written
/// back with these exactly (under the same umask the compiler ran with).
const CACHEABLE_MODE: u32 = 0o755;

/// How the compile step runs: argv, environment and limits (the output
/// cap is the smaller of the compile limit and the submission's budget).
pub(crate) struct CompilePlan {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub limits: ExecLimits,
}

impl CompilePlan {
    /// The plan for `lang` (`None` for a language without a compile step),
    /// with the submission's compiler `options`.
    pub fn new(
        lang: &Language,
        names: &[String],
        env: &[String],
        (cl, options): (&Limits, &[String]),
        budget: u64,
    ) -> Option<CompilePlan> {
        let argv = lang.compile_argv_with(
            &ExpandContext {
                files: names,
                memory_mb: cl.memory_kb / 1024,
            },
            options,
        )?;
        let mut limits = exec_limits(cl);
        limits.processes = limits.processes.max(lang.compile_min_processes);
        limits.output_bytes = limits.output_bytes.min(budget);
        Some(CompilePlan {
            argv,
            env: env.to_vec(),
            limits,
        })
    }

    /// The cache key of this compile of `files` with `toolchain` (see
    /// [`toolchain_id`]) in boxes of `sandbox`'s sizes. Every limit but
    /// the output cap is part of it (see [`crate::cache`]).
    pub fn key(
        &self,
        lang: &Language,
        toolchain: &str,
        files: &[SourceFile],
        sandbox: &SandboxConfig,
    ) -> Key {
        let l = &self.limits;
        let limits = [
            ("cpu_ms", l.cpu_ms),
            ("wall_ms", l.wall_ms),
            ("memory_bytes", l.memory_bytes),
            ("processes", u64::from(l.processes)),
            ("file_size_bytes", l.file_size_bytes),
            ("open_files", l.open_files),
            ("stack_bytes", l.stack_bytes),
            ("box_work_bytes", sandbox.work_bytes),
            ("box_tmp_bytes", sandbox.tmp_bytes),
            ("box_shm_bytes", sandbox.shm_bytes),
        ];
        Key::derive(&KeyInputs {
            language: &lang.id,
            toolchain,
            argv: &self.argv,
            env: &self.env,
            limits: &limits,
            files,
        })
    }
}

/// What identifies a language's toolchain in cache keys: its name and
/// version as detected, and the size and modification time of its compiler
/// binary on the host (a package upgrade that keeps the version string, a
/// distribution's patch release, still changes them; packages install the
/// same times on every machine, so nodes with the same packages share keys).
pub fn toolchain_id(lang: &Language) -> String {
    let compiler = lang
        .compile
        .as_ref()
        .and_then(|c| lang.host_argv(c).into_iter().next())
        .unwrap_or_default();
    let stat = std::fs::metadata(&compiler).ok().map(|m| {
        use std::os::unix::fs::MetadataExt;
        format!(
            "{} bytes, mtime {}.{:09}",
            m.len(),
            m.mtime(),
            m.mtime_nsec()
        )
    });
    format!(
        "{} | {compiler}: {}",
        lang.name,
        stat.unwrap_or_else(|| "not found".into())
    )
}

/// The compile's artifacts: after a successful compile, every regular file
/// under the box's working directory that is not a submitted file as it
/// was submitted (same name, bytes and mode), and the submitted files that
/// are gone. `None` when the box holds something an entry cannot give back
/// exactly — a symlink, a FIFO, a name that is not UTF-8, an empty
/// directory or one of another mode than the box makes, a file with mode
/// bits beyond 0o755, more than [`MAX_ARTIFACTS`] files, more than
/// `max_bytes` — or when the box cannot be read: that compile is not cached.
pub(crate) async fn collect(
    b: &SandboxBox,
    files: &[SourceFile],
    max_bytes: u64,
) -> Option<(Vec<Artifact>, Vec<String>)> {
    let listing = b
        .list_files(MAX_ARTIFACTS + files.len() as u32)
        .await
        .map_err(|e| tracing::debug!(error = %e, "compile artifacts not listed; not cached"))
        .ok()?;
    // Directories that hold a file: writing the file back makes them again.
    let parents: HashSet<&str> = listing
        .iter()
        .filter(|f| f.kind == FileKind::File)
        .flat_map(|f| f.path.match_indices('/').map(|(i, _)| &f.path[..i]))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut artifacts = Vec::new();
    let mut total = 0u64;
    for f in &listing {
        match f.kind {
            FileKind::Dir if parents.contains(f.path.as_str()) && f.mode == 0o755 => continue,
            FileKind::Dir => return None,
            FileKind::Symlink | FileKind::Other => return None,
            FileKind::File => {}
        }
        if f.mode & !CACHEABLE_MODE != 0 {
            return None;
        }
        total += f.size;
        if total > max_bytes {
            return None;
        }
        let data = b.read_file(&f.path, f.size).await.ok()?;
        if data.len() as u64 != f.size {
            return None;
        }
        if let Some(src) = files.iter().find(|s| s.name == f.path) {
            seen.insert(src.name.as_str());
            if src.content.as_bytes() == data && f.mode == SOURCE_MODE {
                continue;
            }
        }
        artifacts.push(Artifact {
            path: f.path.clone(),
            mode: f.mode,
            data,
        });
    }
    let removed = files
        .iter()
        .filter(|s| !seen.contains(s.name.as_str()))
        .map(|s| s.name.clone())
        .collect();
    Some((artifacts, removed))
}

/// The mode submitted files are written with.
pub(crate) const SOURCE_MODE: u32 = 0o644;

/// Writes a submission into a box: its files, or, with a cache entry, the
/// files as that compile left them (the submitted ones it kept, then its
/// artifacts with their modes).
pub(crate) async fn write_files(
    b: &SandboxBox,
    files: &[SourceFile],
    cached: Option<&Entry>,
) -> Result<(), String> {
    let replaced: HashSet<&str> = cached
        .map(|e| {
            e.removed
                .iter()
                .map(String::as_str)
                .chain(e.artifacts.iter().map(|a| a.path.as_str()))
                .collect()
        })
        .unwrap_or_default();
    for f in files.iter().filter(|f| !replaced.contains(f.name.as_str())) {
        b.write_file(&f.name, f.content.as_bytes(), SOURCE_MODE)
            .await
            .map_err(|e| format!("writing {} into the sandbox: {e}", f.name))?;
    }
    for a in cached.map_or(&[][..], |e| &e.artifacts) {
        b.write_file(&a.path, &a.data, a.mode)
            .await
            .map_err(|e| format!("writing the cached {} into the sandbox: {e}", a.path))?;
    }
    Ok(())
}

/// A cache entry for a compile's outcome, when it depends on its inputs
/// alone: it ended by itself (not stopped by a limit or a signal).
/// `artifacts` and `removed` are empty for a failed compile.
pub(crate) fn entry_of(
    o: &ExecOutcome,
    artifacts: Vec<Artifact>,
    removed: Vec<String>,
) -> Option<Entry> {
    if o.limit.is_some() || o.signal.is_some() {
        return None;
    }
    Some(Entry {
        exit_code: o.exit_code?,
        cpu_ms: o.cpu_ms,
        wall_ms: o.wall_ms,
        memory_kb: o.memory_peak_kb,
        stdout: o.stdout.clone(),
        stderr: o.stderr.clone(),
        artifacts,
        removed,
    })
}

/// The outcome a cached compile had.
pub(crate) fn outcome_of(e: &Entry) -> ExecOutcome {
    ExecOutcome {
        exit_code: Some(e.exit_code),
        signal: None,
        cpu_ms: e.cpu_ms,
        wall_ms: e.wall_ms,
        memory_peak_kb: e.memory_kb,
        stdout: e.stdout.clone(),
        stderr: e.stderr.clone(),
        limit: None,
    }
}

/// What the compile step leaves in the report.
#[derive(Default)]
pub(crate) struct CompileFacts {
    pub output: String,
    pub output_bytes: Option<Vec<u8>>,
    pub time_ms: Option<u64>,
    pub wall_time_ms: Option<u64>,
    pub cached: Option<bool>,
}

impl CompileFacts {
    pub fn fill(self, r: &mut Report) {
        r.compile_output = self.output;
        r.compile_output_bytes = self.output_bytes;
        r.compile_time_ms = self.time_ms;
        r.compile_wall_time_ms = self.wall_time_ms;
        r.compile_cached = self.cached;
    }
}

/// From a compile's outcome (run now, or cached) to the report's compile
/// facts and the output budget it used; `Err` is the whole report of a
/// compile that failed (`compilation_error`).
pub(crate) fn judge(
    o: ExecOutcome,
    plan: &CompilePlan,
    cl: &Limits,
    cached: bool,
) -> Result<(CompileFacts, u64), Box<Report>> {
    let used = (o.stdout.len() + o.stderr.len()) as u64;
    let failed = (!o.success()).then(|| failure(&o, cl, plan.limits.output_bytes));
    let (exit_code, cpu_ms, wall_ms, memory_kb) =
        (o.exit_code, o.cpu_ms, o.wall_ms, o.memory_peak_kb);
    let mut all = o.stdout;
    all.extend_from_slice(&o.stderr);
    let (output, output_bytes) = output_text(all);
    let facts = CompileFacts {
        output,
        output_bytes,
        time_ms: Some(cpu_ms),
        wall_time_ms: Some(wall_ms),
        cached: Some(cached),
    };
    match failed {
        None => Ok((facts, used)),
        Some(message) => {
            let mut r = Report::internal_error(message);
            r.status = Status::CompilationError;
            r.exit_code = exit_code;
            r.time_ms = cpu_ms;
            r.wall_time_ms = wall_ms;
            r.memory_kb = memory_kb;
            facts.fill(&mut r);
            Err(Box::new(r))
        }
    }
}

/// Why a compile failed, for `compilation_error`'s message. A compile that
/// runs over its CPU or wall-clock limit is a `compilation_error` saying so
/// (as Judge0's "Compilation time limit exceeded"), never a run verdict.
fn failure(o: &ExecOutcome, cl: &Limits, output_cap: u64) -> String {
    match o.limit {
        Some(LimitHit::CpuTime) => format!(
            "the compile step went over its CPU time limit ({} ms used, limit {} ms)",
            o.cpu_ms, cl.cpu_time_ms
        ),
        Some(LimitHit::WallTime) => format!(
            "the compile step went over its wall-clock limit ({} ms)",
            cl.wall_time_ms
        ),
        Some(LimitHit::Memory) => format!(
            "the compile step went over its memory limit ({} KiB)",
            cl.memory_kb
        ),
        Some(LimitHit::Output) => format!(
            "the compiler wrote more than {output_cap} bytes of output (the smaller of the compile limit and the submission's output budget, limits.output_bytes)"
        ),
        Some(LimitHit::StreamClosed) => "stopped: the client went away".to_string(),
        None => match verdict(o, None) {
            (Status::RuntimeError, _) if o.signal.is_none() => {
                "the compiler reported errors".to_string()
            }
            (_, why) => format!("the compiler stopped: {}", why.unwrap_or_default()),
        },
    }
}

pub(crate) fn exec_limits(l: &Limits) -> ExecLimits {
    let memory = l.memory_kb * 1024;
    ExecLimits {
        cpu_ms: l.cpu_time_ms,
        wall_ms: l.wall_time_ms,
        memory_bytes: memory,
        processes: l.processes,
        output_bytes: l.output_bytes,
        file_size_bytes: 64 << 20,
        open_files: 256,
        stack_bytes: memory.min(256 << 20),
    }
}

/// The entry file, then the other files of the language: headers and data
/// files are in /box for the program but are not compile units.
pub(crate) fn compile_units(lang: &Language, sub: &Submission) -> Vec<String> {
    sub.files
        .iter()
        .enumerate()
        .filter(|(i, f)| *i == 0 || lang.matches_file(std::path::Path::new(&f.name)))
        .map(|(_, f)| f.name.clone())
        .collect()
}
