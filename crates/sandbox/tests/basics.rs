//! A box runs programs, with files in and out, stdin, exit codes and signals.

mod common;
use common::*;
use kiln_sandbox::{ExecLimits, FileKind};

#[tokio::test]
async fn runs_a_program_with_stdin_and_files() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    b.write_file("in.txt", b"from the host\n", 0o644)
        .await
        .unwrap();
    let o = sh_stdin(
        &b,
        "cat in.txt; cat; echo err >&2; echo made > out.txt; exit 3",
        b"from stdin\n",
    )
    .await;
    assert_eq!(text(&o.stdout), "from the host\nfrom stdin\n");
    assert_eq!(text(&o.stderr), "err\n");
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(o.limit, None);
    assert_eq!(b.read_file("out.txt", 100).await.unwrap(), b"made\n");
    let o = sh(&b, "kill -SEGV $$", ExecLimits::default()).await;
    assert_eq!(o.signal, Some(libc::SIGSEGV));
    b.destroy().await;
}

/// What a program left in /box is listed with kinds, sizes and modes; a
/// symlink it made is listed as one (never followed out of the box).
#[tokio::test]
async fn lists_what_a_program_left_in_the_box() {
    let sb = sandbox();
    let b = sb.create_box(&[]).await.unwrap();
    b.write_file("src.c", b"int main;", 0o644).await.unwrap();
    let o = sh(
        &b,
        "mkdir -p p/q && printf abc > p/q/A.class && printf xy > main && chmod 750 main \
         && ln -s /etc/passwd link",
        ExecLimits::default(),
    )
    .await;
    assert_eq!(o.exit_code, Some(0), "{}", text(&o.stderr));
    let mut got = b.list_files(100).await.unwrap();
    got.sort_by(|x, y| x.path.cmp(&y.path));
    let summary: Vec<(&str, FileKind, u64)> = got
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("link", FileKind::Symlink, 0),
            ("main", FileKind::File, 2),
            ("p", FileKind::Dir, 0),
            ("p/q", FileKind::Dir, 0),
            ("p/q/A.class", FileKind::File, 3),
            ("src.c", FileKind::File, 9),
        ]
    );
    assert_eq!(got[1].mode, 0o750);
    let e = b.list_files(3).await.unwrap_err().to_string();
    assert!(e.contains("more than 3 entries"), "{e}");
    b.destroy().await;
}
