//! The engine: takes a submission, gets a box (from the warm pool or fresh),
//! writes the files, compiles once (under the compile limits, its CPU and
//! wall time reported), runs each test, judges, and destroys the box. At most
//! `max_boxes` submissions run at once. The compile output and every test's
//! output share one budget (`limits.output_bytes`, see [`Report`]).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kiln_lang::{Catalog, ExpandContext, Language};
use kiln_sandbox::{
    BindSpec, ExecLimits, ExecOutcome, ExecSpec, Input, LimitHit, Output, Sandbox, SandboxBox,
    SandboxConfig, SandboxInfo,
};
use tokio::sync::{mpsc, Semaphore};

use crate::config::EngineConfig;
use crate::judge::{run_report, verdict};
use crate::types::{output_text, Limits, Report, RunReport, Status, Submission};
use crate::validate::{validate, ValidationError};

/// Output chunks of an interactive run.
pub type StreamEvent = Output;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the sandbox is unavailable: {0}")]
    Sandbox(#[from] kiln_sandbox::SandboxError),
}

struct Inner {
    cfg: EngineConfig,
    catalog: Catalog,
    /// The sandbox, or why this engine has none (an API-only node: it
    /// validates submissions and lists languages, and runs nothing).
    sandbox: Result<Arc<Sandbox>, String>,
    /// Binds every box gets: the union of the toolchains' extra paths, so any
    /// box can run any language and warm boxes fit every submission.
    binds: Vec<BindSpec>,
    slots: Arc<Semaphore>,
    warm: Mutex<Vec<SandboxBox>>,
    refilling: std::sync::atomic::AtomicBool,
}

/// Cheap to clone; share freely.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Checks the sandbox and detects the toolchains. Must be called inside a
    /// tokio runtime when `warm_boxes > 0`.
    pub fn new(cfg: EngineConfig) -> Result<Engine, EngineError> {
        Engine::with_catalog(cfg, Catalog::detect())
    }

    pub fn with_catalog(cfg: EngineConfig, catalog: Catalog) -> Result<Engine, EngineError> {
        let sandbox = Sandbox::new(SandboxConfig {
            helper: cfg.helper.clone(),
            ..cfg.sandbox.clone()
        })?;
        Ok(Engine::build(cfg, catalog, Ok(sandbox)))
    }

    /// An engine without a sandbox, for a node that only accepts submissions
    /// (its workers run elsewhere): validation and the language list work, and
    /// every run is `internal_error` saying `why` there is no sandbox.
    pub fn without_sandbox(cfg: EngineConfig, why: String) -> Engine {
        Engine::build(
            EngineConfig {
                warm_boxes: 0,
                ..cfg
            },
            Catalog::detect(),
            Err(why),
        )
    }

    fn build(cfg: EngineConfig, catalog: Catalog, sandbox: Result<Arc<Sandbox>, String>) -> Engine {
        let mut binds: Vec<BindSpec> = Vec::new();
        for lang in catalog.available() {
            let mounts = lang.mounts.iter().map(|m| BindSpec {
                host: m.host.display().to_string(),
                inside: m.inside.display().to_string(),
            });
            let etc = lang.etc.iter().map(|e| BindSpec {
                host: e.clone(),
                inside: e.clone(),
            });
            for b in mounts.chain(etc) {
                if !binds.iter().any(|x| x.inside == b.inside) {
                    binds.push(b);
                }
            }
        }
        let slots = Arc::new(Semaphore::new(cfg.max_boxes.max(1)));
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                catalog,
                sandbox,
                binds,
                slots,
                warm: Mutex::new(Vec::new()),
                refilling: false.into(),
            }),
        };
        engine.refill();
        engine
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// The sandbox's facts; `None` for an engine [`without_sandbox`](Engine::without_sandbox).
    pub fn sandbox_info(&self) -> Option<SandboxInfo> {
        self.inner.sandbox.as_ref().ok().map(|s| s.info())
    }

    /// Submissions running right now.
    pub fn active(&self) -> usize {
        self.inner.cfg.max_boxes.max(1) - self.inner.slots.available_permits()
    }

    pub fn validate(&self, sub: &Submission) -> Result<(), ValidationError> {
        validate(sub, &self.inner.catalog, &self.inner.cfg)
    }

    /// Waits, at most `deadline`, until no submission runs and every box torn
    /// down in the background is gone (its cgroup removed), then destroys the
    /// warm boxes. For a process about to exit (`kiln run`): the teardown of
    /// the last box would otherwise die with it and leave its cgroup behind.
    /// Returns whether everything was gone in time.
    pub async fn shutdown(&self, deadline: std::time::Duration) -> bool {
        let all = self.inner.cfg.max_boxes.max(1) as u32;
        let drained = tokio::time::timeout(deadline, self.inner.slots.acquire_many(all)).await;
        let warm: Vec<SandboxBox> =
            std::mem::take(&mut *self.inner.warm.lock().expect("warm pool lock"));
        for b in warm {
            b.destroy().await;
        }
        matches!(drained, Ok(Ok(_)))
    }

    /// Compiles (if needed) and runs. A failure of Kiln itself is a report
    /// with `internal_error` and the reason.
    pub async fn execute(&self, sub: Submission) -> Report {
        self.run(sub, None).await
    }

    /// An interactive run: stdin arrives on `stdin` (closed channel = EOF),
    /// output goes to `events` as it is produced. Tests are not used.
    pub async fn execute_streaming(
        &self,
        sub: Submission,
        stdin: mpsc::Receiver<Bytes>,
        events: mpsc::Sender<StreamEvent>,
    ) -> Report {
        self.run(sub, Some((stdin, events))).await
    }

    async fn run(
        &self,
        sub: Submission,
        stream: Option<(mpsc::Receiver<Bytes>, mpsc::Sender<StreamEvent>)>,
    ) -> Report {
        if let Err(e) = self.validate(&sub) {
            return Report::internal_error(format!("invalid submission: {e}"));
        }
        let lang = self
            .inner
            .catalog
            .get(&sub.language)
            .expect("validated")
            .clone();
        let sandbox = match &self.inner.sandbox {
            Ok(sandbox) => sandbox.clone(),
            Err(why) => {
                return Report::internal_error(format!(
                "this node runs no sandbox ({why}); submit through the queue so a worker runs it"
            ))
            }
        };
        let Ok(permit) = self.inner.slots.clone().acquire_owned().await else {
            return Report::internal_error("the engine is shutting down");
        };
        let b = match self.take_box(&sandbox).await {
            Ok(b) => b,
            Err(e) => return Report::internal_error(format!("could not create a sandbox: {e}")),
        };
        let report = self.run_in(&b, &lang, &sub, stream).await;
        // Tear down in the background; the slot frees once the box is gone.
        tokio::spawn(async move {
            b.destroy().await;
            drop(permit);
        });
        report
    }

    async fn take_box(&self, sandbox: &Sandbox) -> Result<SandboxBox, kiln_sandbox::SandboxError> {
        let warm = self.inner.warm.lock().expect("warm pool lock").pop();
        self.refill();
        match warm {
            Some(b) => Ok(b),
            None => sandbox.create_box(&self.inner.binds).await,
        }
    }

    /// Tops the warm pool up in the background (one refiller at a time).
    fn refill(&self) {
        let inner = self.inner.clone();
        let Ok(sandbox) = inner.sandbox.clone() else {
            return;
        };
        if inner.cfg.warm_boxes == 0
            || inner
                .refilling
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            inner
                .refilling
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        };
        rt.spawn(async move {
            while inner.warm.lock().expect("warm pool lock").len() < inner.cfg.warm_boxes {
                match sandbox.create_box(&inner.binds).await {
                    Ok(b) => inner.warm.lock().expect("warm pool lock").push(b),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not pre-create a sandbox");
                        break;
                    }
                }
            }
            inner
                .refilling
                .store(false, std::sync::atomic::Ordering::Release);
        });
    }

    async fn run_in(
        &self,
        b: &SandboxBox,
        lang: &Language,
        sub: &Submission,
        stream: Option<(mpsc::Receiver<Bytes>, mpsc::Sender<StreamEvent>)>,
    ) -> Report {
        for f in &sub.files {
            if let Err(e) = b.write_file(&f.name, f.content.as_bytes(), 0o644).await {
                return Report::internal_error(format!("writing {} into the sandbox: {e}", f.name));
            }
        }
        // The entry file, then the other files of the language: headers and
        // data files are in /box for the program but are not compile units.
        let names: Vec<String> = sub
            .files
            .iter()
            .enumerate()
            .filter(|(i, f)| *i == 0 || lang.matches_file(std::path::Path::new(&f.name)))
            .map(|(_, f)| f.name.clone())
            .collect();
        let env: Vec<String> = lang.env.iter().map(|(k, v)| format!("{k}={v}")).collect();

        // One output budget for the whole submission: the compile output and
        // every test's stdout and stderr (see `Report`).
        let budget = sub.limits.output_bytes;
        let mut used: u64 = 0;
        let mut compile = CompileFacts::default();
        let cl = self.inner.cfg.compile_limits;
        if let Some(argv) = lang.compile_argv(&ExpandContext {
            files: &names,
            memory_mb: cl.memory_kb / 1024,
        }) {
            let mut limits = exec_limits(&cl);
            limits.processes = limits.processes.max(lang.compile_min_processes);
            limits.output_bytes = limits.output_bytes.min(budget);
            let spec = ExecSpec::new(argv, env.clone(), limits);
            let o = match b.exec(spec).await {
                Ok(o) => o,
                Err(e) => {
                    return Report::internal_error(format!("running the {} compiler: {e}", lang.id))
                }
            };
            used += (o.stdout.len() + o.stderr.len()) as u64;
            compile.time_ms = Some(o.cpu_ms);
            compile.wall_time_ms = Some(o.wall_ms);
            let failed = (!o.success()).then(|| compile_failure(&o, &cl, limits.output_bytes));
            let (exit_code, cpu_ms, wall_ms, memory_kb) =
                (o.exit_code, o.cpu_ms, o.wall_ms, o.memory_peak_kb);
            let mut all = o.stdout;
            all.extend_from_slice(&o.stderr);
            (compile.output, compile.output_bytes) = output_text(all);
            if let Some(message) = failed {
                let mut r = Report::internal_error(message);
                r.status = Status::CompilationError;
                r.exit_code = exit_code;
                r.time_ms = cpu_ms;
                r.wall_time_ms = wall_ms;
                r.memory_kb = memory_kb;
                compile.fill(&mut r);
                return r;
            }
        }

        let run_argv = lang.run_argv(&ExpandContext {
            files: &names,
            memory_mb: sub.limits.memory_kb / 1024,
        });
        let mut argv = run_argv;
        argv.extend(sub.args.iter().cloned());
        let mut limits = exec_limits(&sub.limits);
        limits.processes = limits.processes.max(lang.min_processes);

        let (stdin, events) = match stream {
            Some((rx, tx)) => (Some(rx), Some(tx)),
            None => (None, None),
        };
        let cases: Vec<(Input, Option<String>)> = match stdin {
            Some(stdin) => vec![(Input::Stream(stdin), sub.expected_output.clone())],
            None if sub.tests.is_empty() => vec![(
                Input::Bytes(sub.stdin.clone().into_bytes()),
                sub.expected_output.clone(),
            )],
            None => sub
                .tests
                .iter()
                .map(|t| {
                    (
                        Input::Bytes(t.stdin.clone().into_bytes()),
                        t.expected_output.clone(),
                    )
                })
                .collect(),
        };
        let mut runs: Vec<RunReport> = Vec::with_capacity(cases.len());
        // The test that used the budget up; the ones after it are not run.
        let mut spent_by: Option<usize> = None;
        for (i, (input, expected)) in cases.into_iter().enumerate() {
            if let Some(k) = spent_by {
                runs.push(not_run(budget, k));
                continue;
            }
            let mut spec = ExecSpec::new(argv.clone(), env.clone(), limits);
            spec.limits.output_bytes = budget.saturating_sub(used);
            spec.stdin = input;
            spec.stream = events.clone();
            match b.exec(spec).await {
                Ok(o) => {
                    used += (o.stdout.len() + o.stderr.len()) as u64;
                    if o.limit == Some(LimitHit::Output) {
                        spent_by = Some(i);
                    }
                    let mut r = run_report(o, expected.as_deref());
                    if r.status == Status::OutputLimitExceeded && !sub.tests.is_empty() {
                        r.message = Some(format!(
                            "the output of all tests together went over the submission's output budget ({budget} bytes, limits.output_bytes)"
                        ));
                    }
                    runs.push(r);
                }
                Err(e) => {
                    let mut r = Report::internal_error(format!("running the program: {e}"));
                    compile.fill(&mut r);
                    return r;
                }
            }
        }
        let main = runs
            .iter()
            .find(|r| r.status != Status::Accepted)
            .or(runs.last())
            .expect("at least one run")
            .clone();
        let mut report = Report {
            status: main.status,
            stdout: main.stdout,
            stderr: main.stderr,
            compile_output: String::new(),
            exit_code: main.exit_code,
            signal: main.signal,
            time_ms: main.time_ms,
            wall_time_ms: main.wall_time_ms,
            memory_kb: main.memory_kb,
            message: main.message,
            tests: if sub.tests.is_empty() {
                Vec::new()
            } else {
                runs
            },
            compile_time_ms: None,
            compile_wall_time_ms: None,
            stdout_bytes: main.stdout_bytes,
            stderr_bytes: main.stderr_bytes,
            compile_output_bytes: None,
        };
        compile.fill(&mut report);
        report
    }
}

/// What the compile step leaves in the report.
#[derive(Default)]
struct CompileFacts {
    output: String,
    output_bytes: Option<Vec<u8>>,
    time_ms: Option<u64>,
    wall_time_ms: Option<u64>,
}

impl CompileFacts {
    fn fill(self, r: &mut Report) {
        r.compile_output = self.output;
        r.compile_output_bytes = self.output_bytes;
        r.compile_time_ms = self.time_ms;
        r.compile_wall_time_ms = self.wall_time_ms;
    }
}

/// Why a compile failed, for `compilation_error`'s message. A compile that
/// runs over its CPU or wall-clock limit is a `compilation_error` saying so
/// (as Judge0's "Compilation time limit exceeded"), never a run verdict.
fn compile_failure(o: &ExecOutcome, cl: &Limits, output_cap: u64) -> String {
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

/// A test after the one that used the output budget up.
fn not_run(budget: u64, by: usize) -> RunReport {
    RunReport {
        status: Status::OutputLimitExceeded,
        stdout: String::new(),
        stderr: String::new(),
        exit_code: None,
        signal: None,
        time_ms: 0,
        wall_time_ms: 0,
        memory_kb: 0,
        message: Some(format!(
            "not run: tests[{by}] used up the submission's output budget ({budget} bytes for all tests, limits.output_bytes)"
        )),
        stdout_bytes: None,
        stderr_bytes: None,
    }
}

fn exec_limits(l: &Limits) -> ExecLimits {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An API-only node: validation and the language list work without a
    /// sandbox, and a run says why it cannot happen here.
    #[tokio::test]
    async fn an_engine_without_sandbox_validates_and_refuses_runs_with_the_reason() {
        let engine =
            Engine::without_sandbox(EngineConfig::default(), "no root on this node".into());
        assert!(engine.sandbox_info().is_none());
        let lang = engine
            .catalog()
            .available()
            .first()
            .expect("a toolchain on this machine")
            .clone();
        let sub: Submission = serde_json::from_value(serde_json::json!({
            "language": lang.id,
            "files": [{"name": lang.default_file, "content": "x"}],
        }))
        .unwrap();
        engine.validate(&sub).expect("a valid submission");
        let bad = Submission {
            language: "no-such-language".into(),
            ..sub.clone()
        };
        assert!(engine.validate(&bad).is_err());
        let report = engine.execute(sub).await;
        assert_eq!(report.status, Status::InternalError, "{report:?}");
        let message = report.message.unwrap_or_default();
        assert!(message.contains("no root on this node"), "{message}");
    }
}
