//! The workspace manager: lifecycle (provisioning → running → stopping →
//! stopped → deleting, or failed), quotas and node capacity, the box of each
//! running workspace, and the idle reaper.
//!
//! Lifecycle calls answer at once with the transitional status; the work
//! runs in a task that holds the workspace's operation lock, so transitions
//! of one workspace never overlap. After a restart of the server, workspaces
//! that were provisioning or running come back `stopped` (their boxes died
//! with the old process); their homes are kept, and `start` brings them back.
//!
//! Layout: this module holds the registry of workspaces and their records;
//! `create` creates and builds them (templates, parameters, quotas, the
//! box), `lifecycle` stops, starts and deletes them, and reaps idle ones.

mod create;
mod lifecycle;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use kiln_sandbox::{Sandbox, SandboxBox};
use uuid::Uuid;

use crate::error::{Result, WorkspaceError};
use crate::model::{self, Agent, AgentStatus, Status, Workspace};
use crate::pty::PtySession;
use crate::settings::Settings;
use crate::store::Store;
use crate::template::Template;

/// The home inside every workspace box.
pub const HOME: &str = "/home/kiln";

/// Transfers in flight per workspace (see [`crate::transfer`]).
pub const MAX_TRANSFERS: usize = 4;

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
    /// File transfers in flight may not exceed [`MAX_TRANSFERS`].
    pub(crate) transfers: Arc<tokio::sync::Semaphore>,
    /// Held while the record is written (see [`Manager::persist`]).
    saving: Mutex<()>,
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
            transfers: Arc::new(tokio::sync::Semaphore::new(MAX_TRANSFERS)),
            saving: Mutex::new(()),
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
    pub(crate) store: Store,
    pub(crate) homes: Arc<crate::homes::HomePool>,
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
        let (entries, were_running) = restore(&store)?;
        let sizes = templates.iter().map(|t| t.disk_mb).collect();
        let homes = crate::homes::HomePool::start(&dir, settings.warm_homes, sizes)?;
        let m = Arc::new(Manager {
            sandbox,
            settings,
            templates,
            store,
            homes,
            entries: Mutex::new(entries),
        });
        m.update_gauges();
        m.autostart(were_running);
        if let Some(idle) = m.settings.idle_timeout() {
            tokio::spawn(lifecycle::reap_idle(Arc::downgrade(&m), idle));
        }
        Ok(m)
    }

    /// Starts again the workspaces a previous process was running whose
    /// template says `autostart` (the rest stay `stopped`).
    fn autostart(self: &Arc<Self>, were_running: Vec<(String, Uuid)>) {
        for (owner, id) in were_running {
            let Ok(e) = self.entry(&owner, id) else {
                continue;
            };
            let template = e.snapshot().template;
            if self.template(&template).is_ok_and(|t| t.autostart) {
                match self.start(&owner, id) {
                    Ok(_) => {
                        tracing::info!(workspace = %id, "starting a workspace that was running before the restart")
                    }
                    Err(err) => {
                        tracing::warn!(workspace = %id, error = %err, "could not start a workspace again after the restart")
                    }
                }
            }
        }
    }

    /// Warm homes ready, and whether the pool is full (benchmarks wait for
    /// it); starts filling it.
    pub fn warm_homes(&self) -> (usize, bool) {
        self.homes.prime();
        (self.homes.count(), self.homes.is_full())
    }

    /// Unmounts the warm homes and stops making them (a benchmark's end).
    pub async fn clear_warm_homes(&self) {
        let homes = self.homes.clone();
        let _ = tokio::task::spawn_blocking(move || homes.clear()).await;
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

    /// Sets the status (and the rest `f` changes), tells waiters, counts it
    /// and records it (in the background: see [`Manager::persist`]).
    fn transition(&self, e: &Arc<Entry>, f: impl FnOnce(&mut Workspace)) {
        {
            let mut w = lock(&e.ws);
            f(&mut w);
            w.updated_at = model::now();
            e.changed.send_replace(w.status);
        }
        self.update_gauges();
        self.persist(e);
    }

    /// Writes the workspace's record off the async threads and off the
    /// caller's path (nothing waits for an fsync). Writes of one workspace
    /// take turns, and each writes the state as it is then, so the last
    /// one on disk is the latest; a crash may lose the last change (a
    /// workspace then comes back as it was a moment before).
    pub(crate) fn persist(&self, e: &Arc<Entry>) {
        let (store, e) = (self.store.clone(), e.clone());
        tokio::task::spawn_blocking(move || {
            let _turn = lock(&e.saving);
            let w = e.snapshot();
            if w.status == Status::Deleted {
                return;
            }
            if let Err(err) = store.save(&w) {
                tracing::error!(workspace = %w.id, error = %err, "saving a workspace record failed");
            }
        });
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

    /// How many workspaces exist, by status (for `/health` and benchmarks).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for e in lock(&self.entries).values() {
            *out.entry(lock(&e.ws).status.as_str()).or_default() += 1;
        }
        out
    }
}

/// The workspaces a previous process left: deleted ones are removed, the
/// ones it was running come back `stopped` (their boxes died with it);
/// those are also returned, to start again when their template says so.
#[allow(clippy::type_complexity)]
fn restore(store: &Store) -> Result<(HashMap<Uuid, Arc<Entry>>, Vec<(String, Uuid)>)> {
    let mut entries = HashMap::new();
    let mut were_running = Vec::new();
    for mut w in store.load_all()? {
        match w.status {
            Status::Deleting | Status::Deleted => {
                store.remove(w.id)?;
                continue;
            }
            Status::Provisioning | Status::Running | Status::Stopping => {
                if w.status != Status::Stopping {
                    were_running.push((w.owner.clone(), w.id));
                }
                // The old process's box is gone; its home's mount may not be.
                if let Err(e) = store.detach_home(w.id) {
                    tracing::warn!(workspace = %w.id, error = %e, "unmounting a left-over home failed");
                }
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
    Ok((entries, were_running))
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
