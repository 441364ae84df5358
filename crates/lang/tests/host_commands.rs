//! Proves the catalogue's commands: every test program in `testdata/` is
//! compiled and run on the host (no sandbox) with the language's own expanded
//! templates, its env (box paths mapped back to host paths) and a fresh working
//! directory, and must behave as `testdata/README.md` says.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use kiln_lang::testdata::{self, Exit, Kind, HELLO_OUTPUT};
use kiln_lang::{Catalog, ExpandContext, Language};

const MEMORY_MB: u64 = 512;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::detect)
}

/// Bytes an echo must return unchanged: NULs, CRLF, UTF-8, 256 KiB, no final
/// newline.
fn echo_input() -> Vec<u8> {
    let mut input =
        b"first line\r\nsecond\0line\n\xc3\xbcn\xc3\xafc\xc3\xb6de \xe2\x9c\x93\n".to_vec();
    for i in 0..8192 {
        input.extend_from_slice(format!("{i:08} abcdefghijklmnopqrstuvw\n").as_bytes());
    }
    input.extend_from_slice(b"\tlast line without newline");
    input
}

/// Runs `argv` in `dir` with exactly `env`, no core dumps, feeding `stdin`.
fn run(argv: &[String], env: &[(String, String)], dir: &Path, stdin: &[u8]) -> Output {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("ulimit -c 0; exec \"$@\"")
        .arg("sh")
        .args(argv)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies one test program into a fresh directory and compiles it there.
/// Returns the directory, the expand context's files, and the compiler output.
fn prepare(lang: &Language, kind: Kind) -> Option<(tempfile::TempDir, Vec<String>, Output)> {
    let src = testdata::program(&lang.id, kind)?;
    let dir = tempfile::tempdir().unwrap();
    let name = src.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::copy(&src, dir.path().join(&name)).unwrap();
    let files = vec![name];
    let ctx = ExpandContext {
        files: &files,
        memory_mb: MEMORY_MB,
    };
    let compiled = match lang.compile_argv(&ctx) {
        Some(argv) => run(&lang.host_argv(&argv), &lang.host_env(), dir.path(), b""),
        None => run(&["/bin/true".to_string()], &[], dir.path(), b""),
    };
    Some((dir, files, compiled))
}

fn run_program(lang: &Language, dir: &Path, files: &[String], stdin: &[u8]) -> Output {
    let ctx = ExpandContext {
        files,
        memory_mb: MEMORY_MB,
    };
    run(
        &lang.host_argv(&lang.run_argv(&ctx)),
        &lang.host_env(),
        dir,
        stdin,
    )
}

/// The runtime-error program: the exit the README gives, output before the
/// error, and a reason on stderr.
fn check_runtime_error(id: &str, lang: &Language, dir: &Path, files: &[String]) {
    let out = run_program(lang, dir, files, b"");
    let got = match (out.status.code(), out.status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        _ => unreachable!(),
    };
    assert_eq!(
        Some(got),
        testdata::runtime_error_exit(id),
        "{id}: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("before the error\n"),
        "{id}: {}",
        text(&out.stdout)
    );
    assert!(
        !out.stderr.is_empty(),
        "{id} runtime error says why on stderr"
    );
}

fn check_language(id: &str) {
    let Some(lang) = catalog().get(id) else {
        let why = catalog().find_missing(id);
        eprintln!("SKIP {id}: not installed ({why:?})");
        return;
    };

    for kind in [Kind::Hello, Kind::Echo, Kind::RuntimeError] {
        let (dir, files, compiled) = prepare(lang, kind).expect("every language has this kind");
        assert!(
            compiled.status.success(),
            "{id} {kind:?} does not compile: {}",
            text(&compiled.stderr)
        );
        match kind {
            Kind::Hello => {
                let out = run_program(lang, dir.path(), &files, b"");
                assert!(
                    out.status.success(),
                    "{id} hello: {:?} {}",
                    out.status,
                    text(&out.stderr)
                );
                assert_eq!(text(&out.stdout), HELLO_OUTPUT, "{id} hello");
                assert_eq!(text(&out.stderr), "", "{id} hello writes nothing to stderr");
            }
            Kind::Echo => {
                let input = echo_input();
                let out = run_program(lang, dir.path(), &files, &input);
                assert!(
                    out.status.success(),
                    "{id} echo: {:?} {}",
                    out.status,
                    text(&out.stderr)
                );
                assert!(
                    out.stdout == input,
                    "{id} echo changed the bytes ({} in, {} out)",
                    input.len(),
                    out.stdout.len()
                );
                let empty = run_program(lang, dir.path(), &files, b"");
                assert!(
                    empty.status.success() && empty.stdout.is_empty(),
                    "{id} echo of nothing"
                );
            }
            _ => check_runtime_error(id, lang, dir.path(), &files),
        }
    }

    match prepare(lang, Kind::CompileError) {
        Some((_dir, _files, compiled)) => {
            assert!(!compiled.status.success(), "{id} compile_error compiled");
            let said = text(&compiled.stderr) + &text(&compiled.stdout);
            assert!(!said.trim().is_empty(), "{id} compiler says why");
        }
        None => assert!(
            !lang.is_compiled(),
            "{id} is compiled but has no compile_error"
        ),
    }
}

macro_rules! languages {
    ($($id:ident),* $(,)?) => {
        $(
            #[test]
            fn $id() {
                check_language(stringify!($id));
            }
        )*

        #[test]
        fn every_builtin_language_is_checked_here() {
            let checked = [$(stringify!($id)),*];
            assert_eq!(checked, kiln_lang::BUILTIN_IDS);
        }
    };
}

languages!(python, javascript, c, cpp, java, rust, go, bash, ruby, php, perl, lua);

/// The repository's `examples/`: every `hello.<ext>` prints the greeting with
/// its language's commands, and `sum.py` adds two integers.
#[test]
fn repository_examples_run() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let run_example = |name: &str, stdin: &[u8]| -> Option<Output> {
        let path = examples.join(name);
        let lang = catalog().for_file(&path)?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&path, dir.path().join(name)).unwrap();
        let files = vec![name.to_string()];
        let ctx = ExpandContext {
            files: &files,
            memory_mb: MEMORY_MB,
        };
        if let Some(argv) = lang.compile_argv(&ctx) {
            let out = run(&lang.host_argv(&argv), &lang.host_env(), dir.path(), b"");
            assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        }
        Some(run(
            &lang.host_argv(&lang.run_argv(&ctx)),
            &lang.host_env(),
            dir.path(),
            stdin,
        ))
    };
    let mut ran = 0;
    for id in kiln_lang::BUILTIN_IDS {
        let spec_ext = catalog().get(id).map(|l| l.extensions[0].clone());
        let Some(ext) = spec_ext else { continue };
        let name = format!("hello.{ext}");
        assert!(examples.join(&name).is_file(), "examples/{name} is missing");
        let out = run_example(&name, b"").unwrap();
        assert_eq!(
            text(&out.stdout),
            HELLO_OUTPUT,
            "examples/{name}: {}",
            text(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 7, "only {ran} examples ran");
    let sum = run_example("sum.py", b"2 40\n").expect("python is installed");
    assert_eq!(text(&sum.stdout), "42\n");
}
