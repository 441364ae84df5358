//! The engine: takes a submission, gets a box (from the warm pool or fresh),
//! writes the files, compiles once, runs each test, judges, and destroys the
//! box. At most `max_boxes` submissions run at once.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kiln_lang::{Catalog, ExpandContext, Language};
use kiln_sandbox::{
    BindSpec, ExecLimits, ExecSpec, Input, Output, Sandbox, SandboxBox, SandboxConfig, SandboxInfo,
};
use tokio::sync::{mpsc, Semaphore};

use crate::config::EngineConfig;
use crate::judge::{run_report, verdict};
use crate::types::{Limits, Report, RunReport, Status, Submission};
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
            Err(why) => return Report::internal_error(format!(
                "this node runs no sandbox ({why}); submit through the queue so a worker runs it"
            )),
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

        let mut compile_output = String::new();
        let cl = self.inner.cfg.compile_limits;
        if let Some(argv) = lang.compile_argv(&ExpandContext {
            files: &names,
            memory_mb: cl.memory_kb / 1024,
        }) {
            let mut limits = exec_limits(&cl);
            limits.processes = limits.processes.max(lang.compile_min_processes);
            let spec = ExecSpec::new(argv, env.clone(), limits);
            let o = match b.exec(spec).await {
                Ok(o) => o,
                Err(e) => {
                    return Report::internal_error(format!("running the {} compiler: {e}", lang.id))
                }
            };
            compile_output = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            if !o.success() {
                let (status, why) = verdict(&o, None);
                let mut r = Report::internal_error("");
                r.status = Status::CompilationError;
                r.message = Some(match status {
                    Status::RuntimeError => "the compiler reported errors".to_string(),
                    _ => format!("the compiler stopped: {}", why.unwrap_or_default()),
                });
                r.compile_output = compile_output;
                r.exit_code = o.exit_code;
                r.time_ms = o.cpu_ms;
                r.wall_time_ms = o.wall_ms;
                r.memory_kb = o.memory_peak_kb;
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
        for (input, expected) in cases {
            let mut spec = ExecSpec::new(argv.clone(), env.clone(), limits);
            spec.stdin = input;
            spec.stream = events.clone();
            match b.exec(spec).await {
                Ok(o) => runs.push(run_report(&o, expected.as_deref())),
                Err(e) => {
                    let mut r = Report::internal_error(format!("running the program: {e}"));
                    r.compile_output = compile_output;
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
        Report {
            status: main.status,
            stdout: main.stdout,
            stderr: main.stderr,
            compile_output,
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
        }
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
