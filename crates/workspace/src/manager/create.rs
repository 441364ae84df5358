//! Creating a workspace: its template and parameters, the quotas and the
//! node's capacity, its record and uid, then building its box.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_sandbox::{BoxOptions, ExecLimits, ExecSpec, SandboxBox};
use uuid::Uuid;

use super::{lock, Entry, Manager, HOME};
use crate::error::{Result, WorkspaceError};
use crate::model::{self, Agent, AgentStatus, Build, CreateRequest, Status, Timing, Workspace};
use crate::template::Template;

impl Manager {
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

    pub(super) fn check_capacity(&self, entries: &HashMap<Uuid, Arc<Entry>>) -> Result<()> {
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
        // The record is written by the build, off the request path (after a
        // warm home, if any, became the workspace's directory).
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
    pub(super) async fn provision(
        self: Arc<Self>,
        e: Arc<Entry>,
        started: Instant,
        allocate: Duration,
    ) {
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
                self.detach_home(e.snapshot().id).await;
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

    /// The host side of a box, off the async threads: a new workspace's
    /// directory (a warm home when one is ready), the home
    /// attached (its filesystem made on first use), the `/proc` views
    /// written and the CPUs chosen.
    async fn prepare_host(
        &self,
        id: Uuid,
        uid: u32,
        t: &Template,
    ) -> Result<(std::path::PathBuf, Vec<kiln_sandbox::BindSpec>, Vec<usize>)> {
        let store = self.store.clone();
        let homes = self.homes.clone();
        homes.prime();
        let t = t.clone();
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::DirBuilderExt;
            let dir = store.ws_dir(id);
            if !dir.exists() && !homes.claim(t.disk_mb, &dir) {
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .map_err(|e| WorkspaceError::io(format!("create {}", dir.display()), e))?;
            }
            let home = store.attach_home(id, uid, t.disk_mb)?;
            let cpus = crate::views::pick_cpus(&crate::views::online_cpus(), t.cpu, uid);
            let binds = crate::views::write(&store.ws_dir(id), &t, &cpus)?;
            Ok((home, binds, cpus))
        })
        .await
        .map_err(|e| WorkspaceError::Config(format!("preparing the home failed: {e}")))?
    }

    async fn build_box(
        &self,
        e: &Arc<Entry>,
        timings: &mut Vec<Timing>,
    ) -> Result<Arc<SandboxBox>> {
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
        let (home, proc_binds, cpus) = self.prepare_host(id, uid, &t).await?;
        self.persist(e);
        record("home", timings);
        let opts = BoxOptions {
            uid: Some(uid),
            home: Some(home),
            work_dir: Some(HOME.into()),
            proc_binds,
            binds: t.binds.clone(),
            cpu_quota: Some(t.cpu),
        };
        let b = self.sandbox.create_box_with(&opts).await?;
        b.set_box_limits(t.memory_mb << 20, t.pids)?;
        crate::views::pin(&b.host_pids(), &cpus)?;
        record("sandbox", timings);
        // The agent answers when a program starts and exits inside the box.
        let mut spec = ExecSpec::new(
            vec!["/bin/true".into()],
            vec![format!("PATH={}", t.path)],
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
}
