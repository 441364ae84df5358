//! Stopping, starting and deleting a workspace, and the idle reaper.

use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{lock, Entry, Manager};
use crate::error::{Result, WorkspaceError};
use crate::model::{self, Agent, AgentStatus, Build, Status, Workspace};

impl Manager {
    /// Unmounts a workspace's home (its box is gone); a failure is logged.
    pub(super) async fn detach_home(&self, id: Uuid) {
        let store = self.store.clone();
        let r = tokio::task::spawn_blocking(move || store.detach_home(id)).await;
        if let Ok(Err(err)) = r {
            tracing::warn!(workspace = %id, error = %err, "unmounting a workspace's home failed");
        }
    }

    /// Closes terminals, destroys the box and unmounts the home (which stays).
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
        self.detach_home(e.snapshot().id).await;
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

pub(super) async fn reap_idle(m: std::sync::Weak<Manager>, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        let Some(m) = m.upgrade() else { return };
        m.stop_idle(idle);
    }
}
