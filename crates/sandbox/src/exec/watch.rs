//! The watcher of an exec: enforces the limits and stops the run (see the
//! module header of [`exec`](super)); and the kill of a program whose exec
//! was dropped.

use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use super::{ExecLimits, LimitHit, Output, KILL_DEADLINE, WATCHDOG_PERIOD};
use crate::boxed::SandboxBox;
use crate::protocol::Request;

impl SandboxBox {
    /// The watcher: returns when the program ended on its own (without
    /// doing anything) or after it stopped the run for a limit.
    pub(super) async fn watch(
        &self,
        run: &RunState,
        lim: ExecLimits,
        (shared, pid): (bool, i32),
        before: &crate::cgroup::Usage,
        stream: Option<&mpsc::Sender<Output>>,
    ) {
        let cg = self.cgroup();
        let wall = tokio::time::sleep(Duration::from_millis(lim.wall_ms));
        tokio::pin!(wall);
        let mut watchdog = tokio::time::interval(WATCHDOG_PERIOD);
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut ended = run.ended.subscribe();
        let stream_closed = async {
            match stream {
                Some(tx) => tx.closed().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stream_closed);
        let hit = loop {
            tokio::select! {
                _ = ended.wait_for(|e| *e) => return,
                () = &mut wall => break LimitHit::WallTime,
                () = run.over_cap.notified() => break LimitHit::Output,
                () = &mut stream_closed => break LimitHit::StreamClosed,
                _ = watchdog.tick(), if !shared => {
                    if let Ok(u) = cg.usage() {
                        if u.cpu_ns.saturating_sub(before.cpu_ns) > lim.cpu_ms * 1_000_000 {
                            break LimitHit::CpuTime;
                        }
                    }
                },
            }
        };
        run.set_hit(hit);
        self.stop_run(shared, pid).await;
    }

    /// Stops a run: its process group in a shared box, else the whole box.
    /// A box whose init does not take the request within [`KILL_DEADLINE`]
    /// is killed through its cgroup.
    async fn stop_run(&self, shared: bool, pid: i32) {
        if shared {
            let _ = tokio::time::timeout(KILL_DEADLINE, self.kill(pid)).await;
        } else {
            self.stop().await;
        }
    }

    /// Kills every process of the box: through init, and the cgroup as backstop.
    async fn stop(&self) {
        if !matches!(
            tokio::time::timeout(KILL_DEADLINE, self.kill_all()).await,
            Ok(Ok(()))
        ) {
            self.cgroup().kill_all();
        }
    }
}

/// What the pump and the watcher of one exec share.
pub(super) struct RunState {
    /// The limit that stopped the run (the first one wins).
    pub(super) hit: std::sync::Mutex<Option<LimitHit>>,
    /// The pump found output over the cap.
    pub(super) over_cap: Notify,
    /// The program exited, or a limit stopped it.
    pub(super) ended: watch::Sender<bool>,
}

impl RunState {
    pub(super) fn new() -> RunState {
        RunState {
            hit: std::sync::Mutex::new(None),
            over_cap: Notify::new(),
            ended: watch::channel(false).0,
        }
    }

    pub(super) fn hit(&self) -> Option<LimitHit> {
        *self.hit.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_hit(&self, hit: LimitHit) {
        self.hit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(hit);
        self.ended.send_replace(true);
    }
}

/// Kills a started program if the exec's future is dropped before it ended.
pub(super) struct KillOnDrop {
    pub(super) conn: Option<std::sync::Arc<crate::conn::Conn>>,
    pub(super) pid: i32,
    pub(super) all: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let (pid, all) = (self.pid, self.all);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = tokio::time::timeout(
                    KILL_DEADLINE,
                    conn.send(&Request::Kill { pid, all }, &[], &[]),
                )
                .await;
            });
        }
    }
}
