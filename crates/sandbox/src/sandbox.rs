//! The host-side manager: checks that every layer is available, allocates a
//! uid and a cgroup per box, starts the helper, and hands back a [`SandboxBox`].

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use crate::boxed::SandboxBox;
use crate::cgroup::{Cgroups, Version};
use crate::conn::Conn;
use crate::error::{Result, SandboxError};
use crate::protocol::{BindSpec, BoxSetup, Response};
use crate::uid::UidPool;
use crate::userns::{Model, UserNamespaces};

/// How to start the helper: a binary that calls
/// [`crate::helper::run_if_helper`] first thing in `main`.
#[derive(Debug, Clone)]
pub struct HelperCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl HelperCommand {
    /// This very executable, re-executed as `<exe> __box`.
    pub fn current_exe() -> HelperCommand {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        HelperCommand {
            program,
            args: vec![crate::helper::HELPER_ARG.into()],
        }
    }
}

/// Host paths every box sees read-only at the same place: toolchains live
/// under /usr; a few /etc entries make dynamic linking and `alternatives` work.
pub const SYSTEM_BINDS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
];

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub helper: HelperCommand,
    /// Private directory for the mount point of box roots and uid locks
    /// [default: `/run/kiln`; as a non-root user `$XDG_RUNTIME_DIR/kiln`,
    /// else `/tmp/kiln-<uid>`].
    pub state_dir: PathBuf,
    pub first_uid: u32,
    pub uid_count: u32,
    /// Host paths bound read-only at the same path in every box.
    pub binds: Vec<String>,
    pub tmp_bytes: u64,
    pub work_bytes: u64,
    pub shm_bytes: u64,
    pub hostname: String,
    /// How long a box may take to build before creation fails.
    pub setup_timeout: Duration,
    /// How long any request to a box (a file chunk, the start of an exec, a
    /// kill) may wait for room in the channel and for its answer; a box that
    /// takes longer is killed and reads as gone.
    pub request_timeout: Duration,
    /// Whether each box gets its own user namespace (init root inside, an
    /// unprivileged uid outside) [default: `KILN_USER_NAMESPACES`, else auto].
    pub user_namespaces: UserNamespaces,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            helper: HelperCommand::current_exe(),
            state_dir: default_state_dir(),
            first_uid: 60_000,
            uid_count: 4_096,
            binds: SYSTEM_BINDS.iter().map(|s| s.to_string()).collect(),
            tmp_bytes: 64 << 20,
            work_bytes: 64 << 20,
            shm_bytes: 16 << 20,
            hostname: "kiln".into(),
            setup_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            user_namespaces: UserNamespaces::from_env(),
        }
    }
}

/// `/run/kiln` for root; a directory of the user's own otherwise.
fn default_state_dir() -> PathBuf {
    let euid = nix::unistd::geteuid().as_raw();
    if euid == 0 {
        return PathBuf::from("/run/kiln");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("kiln"),
        _ => PathBuf::from(format!("/tmp/kiln-{euid}")),
    }
}

/// How one box differs from a plain one-shot box (all optional).
#[derive(Debug, Clone, Default)]
pub struct BoxOptions {
    /// Run as exactly this uid (a workspace keeps one for its life) instead
    /// of one from the pool; creation fails while a live box holds it.
    pub uid: Option<u32>,
    /// Host directory bound read-write as the working directory (a home).
    pub home: Option<PathBuf>,
    /// Working directory inside the box [default: `/box`].
    pub work_dir: Option<String>,
    /// Extra read-only binds (a toolchain outside /usr, for instance).
    pub binds: Vec<BindSpec>,
    /// Host files bound read-only over `/proc/…` files (see [`BoxSetup::proc_binds`]).
    pub proc_binds: Vec<BindSpec>,
    /// A CFS quota of this many CPUs on the whole box, set before it starts.
    pub cpu_quota: Option<f64>,
}

/// Cgroup names must differ between `Sandbox`es of one process too.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Facts about the sandbox on this host, for `kiln` to report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SandboxInfo {
    pub cgroup_version: Version,
    pub helper: String,
    /// Whether boxes run in their own user namespace (init is not root on
    /// the host); false where the host refuses them or the setting is off.
    pub user_namespaces: bool,
    /// Whether Kiln runs as an unprivileged user (see `userns`).
    pub rootless: bool,
}

pub struct Sandbox {
    cfg: SandboxConfig,
    cgroups: Cgroups,
    uids: UidPool,
    model: Model,
}

impl Sandbox {
    /// Checks the host: root (or, as a user, unprivileged user namespaces),
    /// cgroups, a private state directory.
    pub fn new(cfg: SandboxConfig) -> Result<Arc<Sandbox>> {
        let euid = nix::unistd::geteuid().as_raw();
        let model = crate::userns::resolve(cfg.user_namespaces, euid)?;
        let root_dir = cfg.state_dir.join("root");
        std::fs::create_dir_all(&root_dir)
            .map_err(|e| SandboxError::io(format!("create {}", root_dir.display()), e))?;
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(&cfg.state_dir)
            .map_err(|e| SandboxError::io(format!("stat {}", cfg.state_dir.display()), e))?;
        if !meta.is_dir() {
            return Err(SandboxError::layer(
                "state directory",
                format!(
                    "{} must be a real directory, not a link",
                    cfg.state_dir.display()
                ),
            ));
        }
        std::fs::set_permissions(&cfg.state_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| SandboxError::io(format!("chmod {}", cfg.state_dir.display()), e))?;
        let cgroups = Cgroups::detect().map_err(|e| crate::userns::cgroup_hint(e, model))?;
        let cleared = cgroups.sweep_stale();
        if !cleared.is_empty() {
            tracing::info!(groups = ?cleared, "cleared the cgroups of Kiln processes that are gone");
        }
        let uids = UidPool::new(cfg.state_dir.join("uids"), cfg.first_uid, cfg.uid_count)?;
        Ok(Arc::new(Sandbox {
            cfg,
            cgroups,
            uids,
            model,
        }))
    }

    pub fn info(&self) -> SandboxInfo {
        SandboxInfo {
            cgroup_version: self.cgroups.version(),
            helper: self.cfg.helper.program.display().to_string(),
            user_namespaces: self.model != Model::HostRoot,
            rootless: self.model == Model::Rootless,
        }
    }

    /// Whether no live box (of any Kiln process on the host) holds `uid` now.
    pub fn uid_is_free(&self, uid: u32) -> bool {
        self.uids.acquire_exact(uid).is_ok()
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.cfg
    }

    /// Builds a fresh box. `extra_binds` adds read-only binds (a language's
    /// toolchain outside /usr, for instance).
    pub async fn create_box(&self, extra_binds: &[BindSpec]) -> Result<SandboxBox> {
        self.create_box_with(&BoxOptions {
            binds: extra_binds.to_vec(),
            ..BoxOptions::default()
        })
        .await
    }

    /// Builds a fresh box with the given options (a workspace's box).
    pub async fn create_box_with(&self, opts: &BoxOptions) -> Result<SandboxBox> {
        let lease = match opts.uid {
            Some(uid) => self.uids.acquire_exact(uid)?,
            None => self.uids.acquire()?,
        };
        let name = format!(
            "kiln-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        // Root inside a box with its own user namespace is a second uid of
        // the pool on the host.
        let root = if self.model == Model::PerBox {
            Some(self.uids.acquire()?)
        } else {
            None
        };
        let mut cgroup = self.cgroups.create(&name)?;
        if let Some(cpus) = opts.cpu_quota {
            if let Err(e) = cgroup.set_cpu_quota_before_start(cpus) {
                let _ = tokio::task::spawn_blocking(move || cgroup.destroy()).await;
                return Err(e);
            }
        }
        let root_uid = root.as_ref().map(|l| l.uid);
        match self.start(&lease, root_uid, &cgroup, opts).await {
            Ok((conn, child)) => Ok(SandboxBox::new(conn, child, cgroup, [Some(lease), root])),
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || cgroup.destroy()).await;
                Err(e)
            }
        }
    }

    async fn start(
        &self,
        lease: &crate::uid::UidLease,
        root_uid: Option<u32>,
        cgroup: &crate::cgroup::BoxCgroup,
        opts: &BoxOptions,
    ) -> Result<(Arc<Conn>, tokio::process::Child)> {
        let (host_end, box_end): (OwnedFd, OwnedFd) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| SandboxError::Channel(format!("socketpair: {e}")))?;
        let h = &self.cfg.helper;
        let mut child = tokio::process::Command::new(&h.program)
            .args(&h.args)
            .env_clear()
            .stdin(Stdio::from(box_end))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| SandboxError::Spawn {
                program: h.program.clone(),
                source,
            })?;
        let conn = Conn::new(host_end, self.cfg.request_timeout)?;
        let mut setup = self.box_setup(lease.uid, cgroup, opts);
        setup.root_uid = root_uid;
        setup.rootless = self.model == Model::Rootless;
        let r = match tokio::time::timeout(self.cfg.setup_timeout, handshake(&conn, &setup)).await {
            Ok(r) => r,
            Err(_) => Err(SandboxError::layer(
                "helper",
                format!("box not ready within {:?}", self.cfg.setup_timeout),
            )),
        };
        match r {
            Ok(()) => Ok((conn, child)),
            Err(e) => {
                conn.close();
                // The box's processes first: once the helper has dropped to
                // the box's root uid, only they (through the cgroup, or as
                // the owner of the box's user namespace) are sure to go.
                let killer = cgroup.killer();
                let _ = tokio::task::spawn_blocking(killer).await;
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(e)
            }
        }
    }

    /// What the helper needs to build a box for `uid` in `cgroup`.
    fn box_setup(
        &self,
        uid: u32,
        cgroup: &crate::cgroup::BoxCgroup,
        opts: &BoxOptions,
    ) -> BoxSetup {
        let mut binds: Vec<BindSpec> = self
            .cfg
            .binds
            .iter()
            .map(|p| BindSpec {
                host: p.clone(),
                inside: p.clone(),
            })
            .collect();
        binds.extend(opts.binds.iter().cloned());
        let work_dir = opts
            .work_dir
            .clone()
            .unwrap_or_else(|| crate::protocol::WORK_DIR.to_string());
        let home = if opts.home.is_some() {
            work_dir.as_str()
        } else {
            "/tmp"
        };
        BoxSetup {
            root_dir: self.cfg.state_dir.join("root").display().to_string(),
            uid,
            gid: uid,
            hostname: self.cfg.hostname.clone(),
            cgroup_procs: cgroup.procs_files().iter().map(|p| p.display().to_string()).collect(),
            run_procs: cgroup.run_procs_files().iter().map(|p| p.display().to_string()).collect(),
            binds,
            tmp_bytes: self.cfg.tmp_bytes,
            work_bytes: self.cfg.work_bytes,
            shm_bytes: self.cfg.shm_bytes,
            files: vec![
                ("/etc/passwd".into(), format!("root:x:0:0:root:/root:/bin/sh\nkiln:x:{uid}:{uid}:kiln:{home}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")),
                ("/etc/group".into(), format!("root:x:0:\nkiln:x:{uid}:\nnogroup:x:65534:\n")),
                ("/etc/hosts".into(), "127.0.0.1 localhost kiln\n::1 localhost\n".into()),
                ("/etc/hostname".into(), format!("{}\n", self.cfg.hostname)),
            ],
            work_host: opts.home.as_ref().map(|h| h.display().to_string()),
            work_dir,
            root_uid: None,
            rootless: false,
            proc_binds: opts.proc_binds.clone(),
        }
    }
}

/// Sends the box's setup and waits for the helper's answer: ready, or the
/// layer that failed.
async fn handshake(conn: &Conn, setup: &BoxSetup) -> Result<()> {
    conn.send(setup, &[], &[]).await?;
    let mut buf = vec![0u8; crate::protocol::MAX_PACKET];
    match conn.recv(&mut buf).await? {
        Some(p) => match p.header {
            Response::Ready => Ok(()),
            Response::SetupFailed { layer, message } => Err(SandboxError::Layer { layer, message }),
            other => Err(SandboxError::Channel(format!(
                "unexpected first message {other:?}"
            ))),
        },
        None => Err(SandboxError::layer(
            "helper",
            "the helper exited before the box was ready",
        )),
    }
}
