//! The engine: takes a submission, gets a box (from the warm pool or fresh),
//! writes the files, compiles once (under the compile limits, its CPU and
//! wall time reported), runs each test, judges, and destroys the box. At most
//! `max_boxes` submissions run at once. The compile output and every test's
//! output share one budget (`limits.output_bytes`, see [`Report`]).
//!
//! With the compile cache (see [`crate::cache`]), a submission whose compile
//! inputs were compiled before skips the compile box: a cached
//! `compilation_error` needs no box at all, and a cached success writes the
//! compiler's artifacts into the run's box. A compile that runs is cached
//! (in the background, while the program runs) when its outcome depends on
//! its inputs alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kiln_lang::{Catalog, Language};
use kiln_sandbox::{BindSpec, ExecSpec, Sandbox, SandboxBox, SandboxConfig, SandboxInfo};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::assets::Assets;
use crate::cache::{CacheError, CacheStats, CompileCache};
use crate::compile::{self, CompileFacts};
use crate::config::EngineConfig;
use crate::types::{Report, Submission};
use crate::validate::{validate, ValidationError};
use cached::Compile;

mod cached;
mod pool;

pub use crate::run_step::StreamEvent;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the sandbox is unavailable: {0}")]
    Sandbox(#[from] kiln_sandbox::SandboxError),
    #[error(transparent)]
    Cache(#[from] CacheError),
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
    cache: Option<Arc<CompileCache>>,
    assets: Option<Arc<Assets>>,
    /// [`compile::toolchain_id`] of each compiled language (with a cache or assets).
    toolchains: HashMap<String, String>,
}

/// A compile's cache entry being written while the program runs.
type PendingPut = JoinHandle<()>;

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
        let cache = match &cfg.compile_cache {
            Some(c) => Some(Arc::new(CompileCache::open(c)?)),
            None => None,
        };
        // Without its assets an engine still runs, only its compilers start cold.
        let assets = cfg.assets.as_ref().and_then(|a| {
            Assets::open(&a.dir, a.max_bytes)
                .inspect_err(|e| tracing::warn!(error = %e, "compiles go without toolchain assets"))
                .ok()
        });
        Ok(Engine::build(cfg, catalog, Ok(sandbox), (cache, assets)))
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
            (None, None),
        )
    }

    fn build(
        cfg: EngineConfig,
        catalog: Catalog,
        sandbox: Result<Arc<Sandbox>, String>,
        (cache, assets): (Option<Arc<CompileCache>>, Option<Arc<Assets>>),
    ) -> Engine {
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
        if let Some(a) = &assets {
            binds.push(BindSpec {
                host: a.dir().display().to_string(),
                inside: crate::assets::INSIDE.to_string(),
            });
        }
        let toolchains = match cache.is_some() || assets.is_some() {
            true => catalog
                .available()
                .iter()
                .filter(|l| l.is_compiled())
                .map(|l| (l.id.clone(), compile::toolchain_id(l)))
                .collect(),
            false => HashMap::new(),
        };
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
                cache,
                assets,
                toolchains,
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

    /// The compile cache's counters; `None` without a cache.
    pub fn compile_cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(|c| c.stats())
    }

    /// Submissions running right now.
    /// Toolchain assets being built (see [`crate::assets`]).
    pub fn assets_building(&self) -> usize {
        self.inner.assets.as_ref().map_or(0, |a| a.building())
    }

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
        let compile = match self.prepare_compile(&lang, &sub).await {
            Ok(c) => c,
            // A cached compilation_error: no box at all.
            Err(report) => return *report,
        };
        let Ok(permit) = self.inner.slots.clone().acquire_owned().await else {
            return Report::internal_error("the engine is shutting down");
        };
        let b = match self.take_box(&sandbox).await {
            Ok(b) => b,
            Err(e) => return Report::internal_error(format!("could not create a sandbox: {e}")),
        };
        let (report, put) = self.run_in(&b, &lang, &sub, compile, stream).await;
        // Tear down in the background; the slot frees once the box is gone
        // and the compile's cache entry is written.
        tokio::spawn(async move {
            b.destroy().await;
            if let Some(put) = put {
                let _ = put.await;
            }
            drop(permit);
        });
        report
    }

    async fn run_in(
        &self,
        b: &SandboxBox,
        lang: &Language,
        sub: &Submission,
        compile: Option<Compile>,
        stream: Option<(mpsc::Receiver<Bytes>, mpsc::Sender<StreamEvent>)>,
    ) -> (Report, Option<PendingPut>) {
        let cached = compile.as_ref().and_then(|c| c.hit.as_ref().map(|h| &h.1));
        if let Err(m) = compile::write_files(b, &sub.files, cached).await {
            return (Report::internal_error(m), None);
        }
        let env = env_of(lang);
        // One output budget for the whole submission: the compile output and
        // every test's stdout and stderr (see `Report`); `used` is what the
        // compile output took of it.
        let (mut facts, mut used) = (CompileFacts::default(), 0u64);
        let mut put = None;
        match compile {
            None => {}
            Some(Compile {
                hit: Some(((f, u), _)),
                ..
            }) => (facts, used) = (f, u),
            Some(Compile {
                plan,
                key,
                hit: None,
                ..
            }) => {
                let spec = ExecSpec::new(plan.argv.clone(), plan.env.clone(), plan.limits);
                let o = match b.exec(spec).await {
                    Ok(o) => o,
                    Err(e) => {
                        let m = format!("running the {} compiler: {e}", lang.id);
                        return (Report::internal_error(m), None);
                    }
                };
                if let Some(key) = key {
                    put = self.store(b, key, &o, &sub.files).await;
                }
                match compile::judge(o, &plan, &self.inner.cfg.compile_limits, false) {
                    Ok((f, u)) => (facts, used) = (f, u),
                    Err(report) => return (*report, put),
                }
            }
        }
        let mut report = crate::run_step::run_tests(b, lang, sub, env, used, stream).await;
        facts.fill(&mut report);
        (report, put)
    }
}

fn env_of(lang: &Language) -> Vec<String> {
    lang.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests;
