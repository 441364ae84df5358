//! The running server: opens the backends (by default the data directory,
//! recovering jobs a previous process left unfinished), starts the workers and the
//! HTTP listener, and drains on shutdown (stop accepting with 503, let running
//! jobs finish within the grace period, requeue the rest, exit).

use std::fs::File;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::auth::Auth;
use crate::backends::Backends;
use crate::callback::CallbackPolicy;
use crate::config::{Config, ServeArgs};
use crate::executor::Executor;
use crate::notify::Notifier;
use crate::queue::Queue;
use crate::store::Store;

/// What every handler and worker shares.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub executor: Arc<dyn Executor>,
    pub finished: Arc<dyn Notifier>,
    pub auth: Auth,
    pub limits: crate::ratelimit::RateLimiter,
    pub callbacks: CallbackPolicy,
    pub metrics: PrometheusHandle,
    /// Interactive (WebSocket) runs at once.
    pub interactive: Semaphore,
    /// Set on shutdown: submissions get 503, workers stop taking jobs.
    pub draining: AtomicBool,
    /// Set when the grace period is over: running jobs are abandoned and requeued.
    pub abort: watch::Sender<bool>,
    pub workers_alive: AtomicUsize,
    /// The result write and notice of recent results (crate::stages).
    pub stage_tails: crate::stages::Tails,
    /// `/openapi.json`, filled in for this configuration.
    pub openapi: String,
    /// The workspace manager, or why workspaces are unavailable here.
    pub workspaces: Result<Arc<kiln_workspace::Manager>, String>,
    /// The fleet and queue durability as `/health` last read them.
    pub fleet_seen: crate::queue::seen::FleetSeen,
}

impl AppState {
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// A started server. [`App::shutdown`] does what SIGTERM does.
pub struct App {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl App {
    /// Starts on the backends `config` names (by default the embedded ones of
    /// `config.data_dir`).
    pub async fn start(config: Config, executor: Arc<dyn Executor>) -> anyhow::Result<App> {
        let backends = Backends::from_config(&config).await?;
        App::start_with(config, backends, executor).await
    }

    /// Binds and starts serving on the given backends (already recovered).
    pub async fn start_with(
        config: Config,
        backends: Backends,
        executor: Arc<dyn Executor>,
    ) -> anyhow::Result<App> {
        let Backends {
            store,
            queue,
            notifier,
            guard,
            tasks,
        } = backends;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        if config.serves_api
            && !addr.ip().is_loopback()
            && config.api.api_keys.is_empty()
            && config.api.admin_keys.is_empty()
        {
            let warning = format!(
                "listening on {addr}, reachable from other machines, with no API keys: anyone who can reach it can run code and open workspaces here; set --api-keys (KILN_API_KEYS) or listen on 127.0.0.1"
            );
            tracing::warn!("{warning}");
            eprintln!("kiln: warning: {warning}");
        }
        let languages: Vec<String> = executor.languages().into_iter().map(|l| l.id).collect();
        let openapi = crate::openapi::document(&config, &languages).to_string();
        let workspaces = start_workspaces(&config);
        let state = Arc::new(AppState {
            workspaces,
            fleet_seen: Default::default(),
            openapi,
            auth: Auth::new(&config.api.api_keys, &config.api.admin_keys),
            limits: crate::ratelimit::RateLimiter::new(
                crate::ratelimit::Rate {
                    per_sec: config.api.rate_limit_per_sec,
                    burst: config.api.rate_limit_burst,
                },
                crate::ratelimit::Rate {
                    per_sec: config.api.ip_rate_limit_per_sec,
                    burst: config.api.ip_rate_limit_burst,
                },
            ),
            callbacks: CallbackPolicy {
                allow_private: config.jobs.allow_private_callbacks,
                timeout: config.jobs.callback_timeout(),
                retries: config.jobs.callback_retries,
                secret: crate::callback::secret(&config)?,
            },
            // An API node without queue workers still runs interactive sessions.
            interactive: Semaphore::new(config.workers.max(1)),
            metrics: crate::metrics::install(),
            config,
            store,
            queue,
            executor,
            finished: notifier,
            draining: AtomicBool::new(false),
            abort: watch::channel(false).0,
            workers_alive: AtomicUsize::new(0),
            stage_tails: Default::default(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(state.clone(), listener, stop_rx, guard, tasks));
        tracing::info!("listening on http://{addr}");
        Ok(App {
            addr,
            state,
            stop,
            task,
        })
    }

    /// Starts the drain (as SIGTERM does); [`App::wait`] returns when it is done.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?
    }
}

/// The workspace manager on its own sandbox (a second `Sandbox` beside the
/// engine's: boxes of both share the uid locks and cgroup tree safely).
fn start_workspaces(config: &Config) -> Result<Arc<kiln_workspace::Manager>, String> {
    if !config.workspaces.enabled {
        return Err("disabled in the config ([workspaces] enabled = false)".into());
    }
    let ec = crate::executor::engine_config(config);
    let sandbox = kiln_sandbox::Sandbox::new(kiln_sandbox::SandboxConfig {
        helper: ec.helper.clone(),
        ..ec.sandbox.clone()
    })
    .map_err(|e| format!("the sandbox cannot start: {e}"))?;
    kiln_workspace::Manager::new(sandbox, config.workspaces.clone(), &config.api.data_dir)
        .map_err(|e| e.to_string())
        .inspect_err(|e| tracing::warn!(error = %e, "workspaces are unavailable"))
}

/// A shared queue's fleet: this node's heartbeat when it runs workers, and
/// on an API node `code_execution_workers` = the fleet's live workers. Says
/// once, at start, when the queue would lose accepted jobs in a crash.
async fn fleet(state: Arc<AppState>) {
    let warned =
        tokio::time::timeout(Duration::from_secs(5), state.queue.durability_warning()).await;
    if let Ok(Ok(Some(warning))) = warned {
        tracing::warn!("{warning}");
        eprintln!("kiln: warning: {warning}");
    }
    let mut beat = tokio::time::interval(crate::queue::redis::ANNOUNCE_EVERY);
    loop {
        beat.tick().await;
        if state.config.workers > 0 {
            if let Err(e) = state.queue.announce(state.config.workers).await {
                tracing::debug!(error = %e, "fleet heartbeat failed; retrying at the next beat");
            }
        } else if let Ok(Some(fleet)) = state.queue.fleet().await {
            let workers: u64 = fleet.iter().map(|w| w.workers).sum();
            metrics::gauge!(crate::metrics::WORKERS).set(workers as f64);
        }
    }
}

async fn run(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
    _guard: Option<File>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<()> {
    metrics::gauge!(crate::metrics::WORKERS).set(state.config.workers as f64);
    let mut workers = JoinSet::new();
    for i in 0..state.config.workers {
        workers.spawn(crate::worker::run(state.clone(), i));
    }
    let retention = tokio::spawn(crate::worker::retention(state.clone()));
    let fleet = tokio::spawn(fleet(state.clone()));
    let callbacks = tokio::spawn(crate::callback::dispatch(state.clone()));
    let (http_stop, mut http_stop_rx) = watch::channel(false);
    let router = if state.config.serves_api {
        crate::routes::router(state.clone())
    } else {
        crate::routes::ops_router(state.clone())
    };
    let http = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop_rx.wait_for(|v| *v).await;
        })
        .await
    });

    let _ = stop.wait_for(|v| *v).await;
    tracing::info!(
        grace_secs = state.config.jobs.shutdown_grace_secs,
        "draining: new submissions get 503"
    );
    state.draining.store(true, Ordering::SeqCst);
    let drained = tokio::time::timeout(state.config.jobs.shutdown_grace(), async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("grace period over: requeueing the jobs still running");
        let _ = state.abort.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while workers.join_next().await.is_some() {}
        })
        .await;
    }
    retention.abort();
    fleet.abort();
    callbacks.abort();
    for t in &tasks {
        t.abort();
    }
    let _ = http_stop.send(true);
    match tokio::time::timeout(Duration::from_secs(5), http).await {
        Ok(joined) => joined.context("http task")?.context("http server")?,
        Err(_) => tracing::warn!("open connections did not close in 5 s; exiting anyway"),
    }
    // Homes formatted ahead of use are loop mounts: leave none behind.
    if let Ok(w) = &state.workspaces {
        w.clear_warm_homes().await;
    }
    tracing::info!("drained; bye");
    Ok(())
}

/// `kiln serve`: the real engine behind the API, until SIGTERM or Ctrl-C, then drains.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(&args)?;
    let engine_config = crate::executor::engine_config(&config);
    let engine = match kiln_engine::Engine::new(engine_config.clone()) {
        Ok(engine) => engine,
        // An API node (workers elsewhere) needs no sandbox: it may run
        // unprivileged. Only its interactive runs and workspaces need one.
        Err(e) if config.workers == 0 => {
            tracing::warn!(error = %e, "no sandbox on this API node: WebSocket runs and workspaces answer with the reason");
            kiln_engine::Engine::without_sandbox(engine_config, e.to_string())
        }
        Err(e) => return Err(e).context("starting the execution engine"),
    };
    let languages = engine.catalog().ids().join(", ");
    tracing::info!(workers = config.workers, %languages, "engine ready");
    run_until_signal(config, Arc::new(engine)).await
}

/// Like [`serve`], with another executor.
pub async fn serve_with_executor(
    args: ServeArgs,
    executor: Arc<dyn Executor>,
) -> anyhow::Result<()> {
    run_until_signal(Config::resolve(&args)?, executor).await
}

pub(crate) async fn run_until_signal(
    config: Config,
    executor: Arc<dyn Executor>,
) -> anyhow::Result<()> {
    let what = if config.serves_api {
        "kiln serve"
    } else {
        "kiln worker"
    };
    let app = App::start(config, executor).await?;
    // Said whatever the log level, for people and for scripts that wait on it.
    eprintln!("{what}: listening on http://{}", app.addr);
    shutdown_signal().await;
    app.shutdown();
    app.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
