//! The workspace manager: lifecycle (provisioning → running → stopping →
//! stopped → deleting, or failed), quotas and node capacity, the box of each
//! running workspace, and the idle reaper.
//!
//! Lifecycle calls answer at once with the transitional status; the work
//! runs in a task that holds the workspace's operation lock, so transitions
//! of one workspace never overlap. After a restart of the server, workspaces
//! that were provisioning or running come back `stopped` (their boxes died
//! with the old process); their homes are kept, and `start` brings them back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kiln_sandbox::{BoxOptions, ExecLimits, ExecSpec, Sandbox, SandboxBox};
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::model::{self, Agent, AgentStatus, Build, CreateRequest, Status, Timing, Workspace};
use crate::pty::PtySession;
use crate::settings::Settings;
use crate::store::Store;
use crate::template::Template;

/// The home inside every workspace box.
pub const HOME: &str = "/home/kiln";
pub const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct Entry {
    pub(crate) ws: Mutex<Workspace>,
    pub(crate) boxed: Mutex<Option<Arc<SandboxBox>>>,
    pub(crate) ptys: Mutex<HashMap<String, Arc<PtySession>>>,
    last_used: Mutex<Instant>,
    /// Held by the task doing a transition.
    op: tokio::sync::Mutex<()>,
    /// The status after each transition, for waiters.
    changed: tokio::sync::watch::Sender<Status>,
    /// Execs and file transfers in flight (the idle reaper leaves busy workspaces alone).
    pub(crate) busy: std::sync::atomic::AtomicUsize,
    /// File transfers in flight may not exceed [`crate::transfer::MAX_TRANSFERS`].
    pub(crate) transfers: Arc<tokio::sync::Semaphore>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Entry {
    fn new(ws: Workspace) -> Arc<Entry> {
        let changed = tokio::sync::watch::channel(ws.status).0;
        Arc::new(Entry {
            ws: Mutex::new(ws),
            boxed: Mutex::new(None),
            ptys: Mutex::new(HashMap::new()),
            last_used: Mutex::new(Instant::now()),
            op: tokio::sync::Mutex::new(()),
            changed,
            busy: Default::default(),
            transfers: Arc::new(tokio::sync::Semaphore::new(crate::transfer::MAX_TRANSFERS)),
        })
    }

    pub(crate) fn snapshot(&self) -> Workspace {
        lock(&self.ws).clone()
    }

    pub(crate) fn running_box(&self) -> Result<Arc<SandboxBox>> {
        let (status, name) = {
            let w = lock(&self.ws);
            (w.status, w.name.clone())
        };
        match (status, lock(&self.boxed).clone()) {
            (Status::Running, Some(b)) => Ok(b),
            _ => Err(WorkspaceError::Conflict(format!(
                "workspace {name:?} is {}; it must be running (POST …/start)",
                status.as_str()
            ))),
        }
    }

    pub(crate) fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
        lock(&self.ws).last_used_at = model::now();
    }

    /// Marks the workspace busy until the guard drops (and touches it at both ends).
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        self.touch();
        self.busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(self.clone())
    }
}

pub(crate) struct Busy(Arc<Entry>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .busy
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.touch();
    }
}

pub struct Manager {
    pub(crate) sandbox: Arc<Sandbox>,
    pub(crate) settings: Settings,
    templates: Vec<Template>,
    store: Store,
    entries: Mutex<HashMap<Uuid, Arc<Entry>>>,
}

impl Manager {
    /// Opens the store under `data_dir`, resolves the templates and brings
    /// back the workspaces a previous process left (as `stopped`).
    pub fn new(
        sandbox: Arc<Sandbox>,
        settings: Settings,
        default_data_dir: &Path,
    ) -> Result<Arc<Manager>> {
        settings.check().map_err(WorkspaceError::Config)?;
        let nofile = raise_open_files_limit();
        if nofile < 4 * settings.max_workspaces as u64 {
            tracing::warn!(
                nofile,
                max_workspaces = settings.max_workspaces,
                "the open-file limit may be too low for this many workspaces"
            );
        }
        let mut specs = settings.templates.clone();
        if let Some(f) = &settings.templates_file {
            specs.extend(crate::template::read_file(f)?);
        }
        let templates = crate::template::resolve(specs)?;
        let dir = settings
            .data_dir
            .clone()
            .unwrap_or_else(|| default_data_dir.join("workspaces"));
        let store = Store::open(&dir)?;
        let mut entries = HashMap::new();
        for mut w in store.load_all()? {
            match w.status {
                Status::Deleting | Status::Deleted => {
                    store.remove(w.id)?;
                    continue;
                }
                Status::Provisioning | Status::Running | Status::Stopping => {
                    w.status = Status::Stopped;
                    w.agent = Agent {
                        status: AgentStatus::Disconnected,
                        ready_at: None,
                    };
                    w.updated_at = model::now();
                    store.save(&w)?;
                }
                Status::Stopped | Status::Failed => {}
            }
            entries.insert(w.id, Entry::new(w));
        }
        let m = Arc::new(Manager {
            sandbox,
            settings,
            templates,
            store,
            entries: Mutex::new(entries),
        });
        m.update_gauges();
        if let Some(idle) = m.settings.idle_timeout() {
            tokio::spawn(reap_idle(Arc::downgrade(&m), idle));
        }
        Ok(m)
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn entry(&self, owner: &str, id: Uuid) -> Result<Arc<Entry>> {
        let e = lock(&self.entries).get(&id).cloned();
        match e {
            Some(e) if lock(&e.ws).owner == owner => Ok(e),
            _ => Err(WorkspaceError::NotFound(format!("no workspace {id}"))),
        }
    }

    fn save(&self, e: &Entry) -> Result<()> {
        let w = lock(&e.ws);
        self.store.save(&w)
    }

    /// Sets the status (and the rest `f` changes), records and counts it.
    fn transition(&self, e: &Entry, f: impl FnOnce(&mut Workspace)) {
        {
            let mut w = lock(&e.ws);
            f(&mut w);
            w.updated_at = model::now();
            if let Err(err) = self.store.save(&w) {
                tracing::error!(workspace = %w.id, error = %err, "saving a workspace record failed");
            }
            e.changed.send_replace(w.status);
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        let mut counts: HashMap<Status, usize> = HashMap::new();
        for e in lock(&self.entries).values() {
            *counts.entry(lock(&e.ws).status).or_default() += 1;
        }
        for s in Status::ALL {
            metrics::gauge!(crate::metrics::WORKSPACES, "status" => s.as_str())
                .set(*counts.get(&s).unwrap_or(&0) as f64);
        }
    }

    pub fn template(&self, name: &str) -> Result<&Template> {
        self.templates
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.templates.iter().map(|t| t.name.as_str()).collect();
                WorkspaceError::invalid(
                    "template",
                    format!("unknown template {name:?}; known: {}", known.join(", ")),
                )
            })
    }

    fn parameters(
        &self,
        t: &Template,
        given: &BTreeMap<String, serde_json::Value>,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in given {
            let Some(p) = t.parameters.iter().find(|p| p.name == k) else {
                let known: Vec<&str> = t.parameters.iter().map(|p| p.name).collect();
                return Err(WorkspaceError::invalid(
                    "parameters",
                    format!(
                        "template {:?} has no parameter {k:?}; it has: {}",
                        t.name,
                        known.join(", ")
                    ),
                ));
            };
            let Some(v) = v.as_str() else {
                return Err(WorkspaceError::invalid(
                    "parameters",
                    format!("{k} must be a string"),
                ));
            };
            if !p.options.is_empty() && !p.options.iter().any(|o| o == v) {
                return Err(WorkspaceError::invalid(
                    "parameters",
                    format!("{k} must be one of {}", p.options.join(", ")),
                ));
            }
            out.insert(k.clone(), v.to_string());
        }
        for p in &t.parameters {
            out.entry(p.name.to_string())
                .or_insert_with(|| p.default.clone());
        }
        Ok(out)
    }

    fn check_capacity(&self, entries: &HashMap<Uuid, Arc<Entry>>) -> Result<()> {
        let live = entries
            .values()
            .filter(|e| lock(&e.ws).status.is_live())
            .count();
        if live >= self.settings.max_workspaces {
            return Err(WorkspaceError::Capacity(format!(
                "this node runs {live} workspaces, its maximum (workspaces.max_workspaces); stop or delete one, or try another node"
            )));
        }
        Ok(())
    }

    /// Creates a workspace and starts building it.
    pub fn create(self: &Arc<Self>, owner: &str, req: CreateRequest) -> Result<Workspace> {
        let started = Instant::now();
        model::check_name(&req.name)?;
        let template = self.template(&req.template)?;
        let parameters = self.parameters(template, &req.parameters)?;
        let entry = {
            let mut entries = lock(&self.entries);
            let mine: Vec<_> = entries
                .values()
                .filter(|e| lock(&e.ws).owner == owner)
                .collect();
            if mine.iter().any(|e| lock(&e.ws).name == req.name) {
                return Err(WorkspaceError::Conflict(format!(
                    "you already have a workspace named {:?}",
                    req.name
                )));
            }
            if mine.len() >= self.settings.max_per_owner {
                return Err(WorkspaceError::Quota(format!(
                    "you have {} workspaces, the most one owner may have (workspaces.max_per_owner = {}); delete one first",
                    mine.len(),
                    self.settings.max_per_owner
                )));
            }
            self.check_capacity(&entries)?;
            let uid = self.free_uid(&entries)?;
            let now = model::now();
            let ws = Workspace {
                id: Uuid::new_v4(),
                name: req.name,
                template: template.name.clone(),
                owner: owner.to_string(),
                status: Status::Provisioning,
                parameters,
                created_at: now.clone(),
                updated_at: now.clone(),
                last_used_at: now.clone(),
                error: None,
                build: Build {
                    started_at: now,
                    finished_at: None,
                    duration_ms: None,
                    timings: vec![],
                },
                agent: Agent {
                    status: AgentStatus::Connecting,
                    ready_at: None,
                },
                uid,
            };
            let e = Entry::new(ws);
            entries.insert(e.snapshot().id, e.clone());
            e
        };
        let allocate = started.elapsed();
        let snapshot = entry.snapshot();
        if let Err(err) = self.save(&entry) {
            lock(&self.entries).remove(&snapshot.id);
            return Err(err);
        }
        self.update_gauges();
        let me = self.clone();
        tokio::spawn(async move { me.provision(entry, started, allocate).await });
        Ok(snapshot)
    }

    /// The lowest uid of the range that no workspace (in any status) has and
    /// no live box of another process holds.
    fn free_uid(&self, entries: &HashMap<Uuid, Arc<Entry>>) -> Result<u32> {
        let used: HashSet<u32> = entries.values().map(|e| lock(&e.ws).uid).collect();
        let (first, count) = (self.settings.first_uid, self.settings.uid_count);
        (first..first + count).find(|u| !used.contains(u) && self.sandbox.uid_is_free(*u)).ok_or_else(|| {
            WorkspaceError::Capacity(format!("all {count} workspace uids from {first} are taken; delete workspaces or widen workspaces.uid_count"))
        })
    }

    /// Builds the box of a workspace: home, sandbox, agent. Ends `running` or `failed`.
    async fn provision(self: Arc<Self>, e: Arc<Entry>, started: Instant, allocate: Duration) {
        let _op = e.op.lock().await;
        let mut timings = vec![Timing {
            step: "allocate".into(),
            duration_ms: allocate.as_millis() as u64,
        }];
        let result = self.build_box(&e, &mut timings).await;
        let elapsed = started.elapsed();
        let finished = model::now();
        match result {
            Ok(b) => {
                *lock(&e.boxed) = Some(b);
                e.touch();
                metrics::histogram!(crate::metrics::BUILD_SECONDS).record(elapsed.as_secs_f64());
                self.transition(&e, |w| {
                    // A delete that came in meanwhile keeps its `deleting`.
                    if w.status == Status::Provisioning {
                        w.status = Status::Running;
                    }
                    w.error = None;
                    w.agent = Agent {
                        status: AgentStatus::Connected,
                        ready_at: Some(finished.clone()),
                    };
                    w.build.finished_at = Some(finished);
                    w.build.duration_ms = Some(elapsed.as_millis() as u64);
                    w.build.timings = timings;
                });
            }
            Err(err) => {
                tracing::warn!(workspace = %e.snapshot().id, error = %err, "building a workspace failed");
                self.transition(&e, |w| {
                    if w.status == Status::Provisioning {
                        w.status = Status::Failed;
                    }
                    w.error = Some(err.to_string());
                    w.agent = Agent {
                        status: AgentStatus::Disconnected,
                        ready_at: None,
                    };
                    w.build.finished_at = Some(finished);
                    w.build.duration_ms = Some(elapsed.as_millis() as u64);
                    w.build.timings = timings;
                });
            }
        }
    }

    async fn build_box(&self, e: &Entry, timings: &mut Vec<Timing>) -> Result<Arc<SandboxBox>> {
        let (id, uid, template) = {
            let w = lock(&e.ws);
            (w.id, w.uid, w.template.clone())
        };
        let t = self
            .template(&template)
            .map_err(|_| {
                WorkspaceError::Config(format!("template {template:?} is no longer configured"))
            })?
            .clone();
        let mut step = Instant::now();
        let mut record = |name: &str, timings: &mut Vec<Timing>| {
            timings.push(Timing {
                step: name.into(),
                duration_ms: step.elapsed().as_millis() as u64,
            });
            step = Instant::now();
        };
        let home = self.store.ensure_home(id, uid)?;
        record("home", timings);
        let opts = BoxOptions {
            uid: Some(uid),
            home: Some(home),
            work_dir: Some(HOME.into()),
            binds: vec![],
        };
        let b = self.sandbox.create_box_with(&opts).await?;
        b.set_box_limits(t.memory_mb << 20, t.pids)?;
        record("sandbox", timings);
        // The agent answers when a program starts and exits inside the box.
        let mut spec = ExecSpec::new(
            vec!["/bin/true".into()],
            vec![PATH.into()],
            ExecLimits {
                wall_ms: 10_000,
                ..ExecLimits::default()
            },
        );
        spec.cwd = HOME.into();
        spec.shared_box = true;
        let out = b.exec(spec).await?;
        if !out.success() {
            b.destroy().await;
            return Err(WorkspaceError::Config(format!(
                "the workspace agent did not answer: /bin/true exited with {:?} signal {:?}",
                out.exit_code, out.signal
            )));
        }
        record("agent", timings);
        Ok(Arc::new(b))
    }

    /// Closes terminals and destroys the box (the home stays).
    async fn teardown(&self, e: &Entry) {
        let ptys: Vec<_> = lock(&e.ptys).drain().map(|(_, s)| s).collect();
        for s in ptys {
            s.kill().await;
        }
        let b = lock(&e.boxed).take();
        if let Some(b) = b {
            match Arc::try_unwrap(b) {
                Ok(b) => b.destroy().await,
                Err(shared) => {
                    // An exec still holds it: kill everything; the last holder's drop removes it.
                    let _ = shared.kill_all().await;
                }
            }
        }
    }

    /// Waits until the workspace reaches one of `statuses` (or `failed`).
    pub async fn wait_for(&self, owner: &str, id: Uuid, statuses: &[Status]) -> Result<Workspace> {
        let e = self.entry(owner, id)?;
        let mut rx = e.changed.subscribe();
        let _ = rx
            .wait_for(|s| statuses.contains(s) || *s == Status::Failed)
            .await;
        Ok(e.snapshot())
    }

    pub fn get(&self, owner: &str, id: Uuid) -> Result<Workspace> {
        Ok(self.entry(owner, id)?.snapshot())
    }

    pub fn list(
        &self,
        owner: &str,
        status: Option<Status>,
        name_prefix: Option<&str>,
    ) -> Vec<Workspace> {
        let mut out: Vec<Workspace> = lock(&self.entries)
            .values()
            .map(|e| e.snapshot())
            .filter(|w| {
                w.owner == owner
                    && status.is_none_or(|s| w.status == s)
                    && name_prefix.is_none_or(|p| w.name.starts_with(p))
            })
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
        out
    }

    fn refuse(w: &Workspace, action: &str) -> WorkspaceError {
        WorkspaceError::Conflict(format!(
            "workspace {:?} is {}; it cannot {action} now",
            w.name,
            w.status.as_str()
        ))
    }

    pub fn stop(self: &Arc<Self>, owner: &str, id: Uuid) -> Result<Workspace> {
        let e = self.entry(owner, id)?;
        {
            let w = lock(&e.ws);
            if !matches!(w.status, Status::Running | Status::Failed) {
                return Err(Self::refuse(&w, "stop"));
            }
        }
        self.transition(&e, |w| w.status = Status::Stopping);
        let snapshot = e.snapshot();
        let me = self.clone();
        tokio::spawn(async move { me.do_stop(&e).await });
        Ok(snapshot)
    }

    async fn do_stop(&self, e: &Arc<Entry>) {
        let _op = e.op.lock().await;
        self.teardown(e).await;
        self.transition(e, |w| {
            w.status = Status::Stopped;
            w.agent = Agent {
                status: AgentStatus::Disconnected,
                ready_at: None,
            };
        });
    }

    pub fn start(self: &Arc<Self>, owner: &str, id: Uuid) -> Result<Workspace> {
        let started = Instant::now();
        let e = self.entry(owner, id)?;
        {
            let entries = lock(&self.entries);
            let w = lock(&e.ws);
            if !matches!(w.status, Status::Stopped | Status::Failed) {
                return Err(Self::refuse(&w, "start"));
            }
            drop(w);
            self.check_capacity(&entries)?;
            lock(&e.ws).status = Status::Provisioning;
        }
        let allocate = started.elapsed();
        self.transition(&e, |w| {
            w.error = None;
            w.build = Build {
                started_at: model::now(),
                finished_at: None,
                duration_ms: None,
                timings: vec![],
            };
            w.agent = Agent {
                status: AgentStatus::Connecting,
                ready_at: None,
            };
        });
        let snapshot = e.snapshot();
        let me = self.clone();
        tokio::spawn(async move { me.provision(e, started, allocate).await });
        Ok(snapshot)
    }

    pub fn delete(self: &Arc<Self>, owner: &str, id: Uuid) -> Result<Workspace> {
        let e = self.entry(owner, id)?;
        {
            let w = lock(&e.ws);
            if matches!(w.status, Status::Deleting | Status::Deleted) {
                return Err(Self::refuse(&w, "be deleted again"));
            }
        }
        self.transition(&e, |w| w.status = Status::Deleting);
        let snapshot = e.snapshot();
        let me = self.clone();
        tokio::spawn(async move {
            let _op = e.op.lock().await;
            me.teardown(&e).await;
            let id = e.snapshot().id;
            match me.store.remove(id) {
                Ok(()) => {
                    lock(&e.ws).status = Status::Deleted;
                    e.changed.send_replace(Status::Deleted);
                    lock(&me.entries).remove(&id);
                    me.update_gauges();
                }
                Err(err) => me.transition(&e, |w| {
                    w.status = Status::Failed;
                    w.error = Some(format!("deleting failed: {err}"));
                }),
            }
        });
        Ok(snapshot)
    }

    /// How many workspaces exist, by status (for `/health` and benchmarks).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for e in lock(&self.entries).values() {
            *out.entry(lock(&e.ws).status.as_str()).or_default() += 1;
        }
        out
    }

    /// Stops running workspaces idle for longer than `idle` (no exec, file
    /// or terminal activity, and no terminal attached).
    fn stop_idle(self: &Arc<Self>, idle: Duration) {
        let idle_ones: Vec<(String, Uuid)> = lock(&self.entries)
            .values()
            .filter(|e| {
                lock(&e.ws).status == Status::Running
                    && e.busy.load(std::sync::atomic::Ordering::SeqCst) == 0
                    && lock(&e.last_used).elapsed() >= idle
                    && !lock(&e.ptys).values().any(|p| p.attached() > 0)
            })
            .map(|e| {
                let w = lock(&e.ws);
                (w.owner.clone(), w.id)
            })
            .collect();
        for (owner, id) in idle_ones {
            tracing::info!(workspace = %id, "stopping an idle workspace");
            let _ = self.stop(&owner, id);
        }
    }
}

async fn reap_idle(m: std::sync::Weak<Manager>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        let Some(m) = m.upgrade() else { return };
        m.stop_idle(idle);
    }
}

/// Raises this process's open-file soft limit to its hard limit: each
/// running workspace holds descriptors (its control socket, terminals).
/// Returns the new soft limit.
pub fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}
