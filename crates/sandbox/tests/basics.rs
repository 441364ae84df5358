//! A box runs programs, with files in and out, stdin, exit codes and signals.

mod common;
use common::*;
use kiln_sandbox::ExecLimits;

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
