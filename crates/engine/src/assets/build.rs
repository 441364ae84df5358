//! Running a recipe on the host: in a directory of its own under the
//! system's temporary directory, as
//! the unprivileged `nobody` when Kiln runs as root, with a clean
//! environment, a deadline per step and bounded output. What a recipe runs
//! is the language's own compiler fed Kiln's own files (see the parent
//! module), never a submission's.

use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::Recipe;

/// The longest one step may take (`bits/stdc++.h` takes ~8 s of CPU).
const STEP_DEADLINE: Duration = Duration::from_secs(300);
/// Output of a step kept for the error message.
const OUTPUT_CAP: u64 = 16 << 10;
/// `nobody`: whom the steps run as when Kiln is root.
const NOBODY: u32 = 65534;

/// Builds `recipe` in a directory of its own under the system's temporary
/// directory (`nobody` may not reach the store's parents), then copies the
/// files it keeps into `scratch` (which must not exist, in the store), owned
/// by Kiln, mode 0644, synced to disk. Returns their bytes.
pub async fn run(scratch: &Path, recipe: &Recipe) -> Result<u64, String> {
    let work =
        std::env::temp_dir().join(format!("kiln-asset-{}-{}", recipe.key, std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let built = steps(&work, recipe).await;
    let kept = built.and_then(|()| {
        keep(&work, scratch, recipe.keep)
            .map_err(|e| format!("copying the asset into {}: {e}", scratch.display()))
    });
    let _ = std::fs::remove_dir_all(&work);
    kept
}

async fn steps(work: &Path, recipe: &Recipe) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", work.display());
    std::fs::create_dir(work).map_err(|e| io("create", e))?;
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io("chmod", e))?;
    let as_nobody = std::fs::metadata(work).map_err(|e| io("stat", e))?.uid() == 0;
    for (name, content) in &recipe.files {
        std::fs::write(work.join(name), content).map_err(|e| io("write in", e))?;
    }
    if as_nobody {
        own_tree(work, NOBODY).map_err(|e| io("chown", e))?;
    }
    for step in &recipe.steps {
        let output = run_step(work, &step.argv, as_nobody).await?;
        if step.quiet && !output.is_empty() {
            return Err(format!(
                "{} printed what a usable asset does not: {}",
                step.argv.join(" "),
                String::from_utf8_lossy(&output)
            ));
        }
        if let Some((from, to)) = step.output {
            std::fs::rename(work.join(from), work.join(to)).map_err(|e| io("rename in", e))?;
        }
    }
    Ok(())
}

async fn run_step(dir: &Path, argv: &[String], as_nobody: bool) -> Result<Vec<u8>, String> {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if as_nobody {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {program}: {e}"))?;
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let finished = tokio::time::timeout(STEP_DEADLINE, async move {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = out.as_mut() {
                let _ = s.take(OUTPUT_CAP).read_to_end(&mut o).await;
            }
        };
        let read_err = async {
            if let Some(s) = err.as_mut() {
                let _ = s.take(OUTPUT_CAP).read_to_end(&mut e).await;
            }
        };
        tokio::join!(read_out, read_err);
        // Whatever came past the cap is not read: the pipes close with us.
        drop((out, err));
        (child.wait().await, o, e)
    })
    .await;
    let Ok((status, mut o, e)) = finished else {
        return Err(format!(
            "{} took more than {STEP_DEADLINE:?}; stopped",
            argv.join(" ")
        ));
    };
    let status = status.map_err(|e| format!("waiting for {program}: {e}"))?;
    o.extend_from_slice(&e);
    if !status.success() {
        return Err(format!(
            "{} failed ({status}): {}",
            argv.join(" "),
            String::from_utf8_lossy(&o)
        ));
    }
    Ok(o)
}

fn own_tree(dir: &Path, uid: u32) -> std::io::Result<()> {
    chown(dir, Some(uid), Some(uid))?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            own_tree(&e.path(), uid)?;
        } else {
            std::os::unix::fs::lchown(e.path(), Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

/// Copies `keep` (regular files `work` must hold) into a new directory
/// `dest`, files 0644 and the directory 0755, all synced. Returns their bytes.
fn keep(work: &Path, dest: &Path, keep: &[&str]) -> std::io::Result<u64> {
    std::fs::create_dir(dest)?;
    let mut bytes = 0;
    for k in keep {
        let from = work.join(k);
        if !std::fs::symlink_metadata(&from)?.is_file() {
            return Err(std::io::Error::other(format!("{k} is not a regular file")));
        }
        let to = dest.join(k);
        std::fs::copy(&from, &to)?;
        let f = std::fs::File::open(&to)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        bytes += f.metadata()?.len();
    }
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))?;
    std::fs::File::open(dest)?.sync_all()?;
    Ok(bytes)
}
