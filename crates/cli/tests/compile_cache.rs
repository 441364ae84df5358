//! The compile cache through the real sandbox: a program compiled once is
//! not compiled again (the report says so, with the first compile's
//! figures), a compile error is cached and reported identically, a program
//! that replaces its own binary does not change what the next hit gets,
//! and `kiln run` caches under `$XDG_CACHE_HOME` unless told not to.

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use kiln_engine::{CompileCacheConfig, Engine, EngineConfig, Report, Status, Submission};

fn cached_engine(dir: &Path) -> Engine {
    engine_with(EngineConfig {
        compile_cache: Some(CompileCacheConfig {
            dir: dir.to_path_buf(),
            max_bytes: 64 << 20,
        }),
        ..EngineConfig::default()
    })
}

/// Runs `sub` and waits until its box is gone and its cache entry written.
async fn run(e: &Engine, sub: Submission) -> Report {
    let r = e.execute(sub).await;
    assert!(e.shutdown(Duration::from_secs(20)).await, "teardown");
    r
}

const SUM_C: &str = "#include <stdio.h>\nint main(void){long a,b;if(scanf(\"%ld %ld\",&a,&b)!=2)return 1;printf(\"%ld\\n\",a+b);return 0;}\n";

fn sum_c(stdin: &str) -> Submission {
    let mut s = submission("c", vec![source("main.c", SUM_C)]);
    s.stdin = stdin.into();
    s
}

/// The second run of the same C program skips the compile box: it says it
/// was cached, reports the first compile's CPU and wall time (the figures
/// of the compile whose result it uses), and runs the same binary — with
/// its own stdin.
#[tokio::test]
async fn the_same_program_twice_is_compiled_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = cached_engine(dir.path());
    let first = run(&e, sum_c("2 40")).await;
    assert_eq!(first.status, Status::Accepted, "{first:?}");
    assert_eq!(first.stdout, "42\n");
    assert_eq!(first.compile_cached, Some(false));
    let s = e.compile_cache_stats().unwrap();
    assert_eq!((s.hits, s.misses, s.stores), (0, 1, 1), "{s:?}");

    let second = run(&e, sum_c("1 2")).await;
    assert_eq!(second.status, Status::Accepted, "{second:?}");
    assert_eq!(second.stdout, "3\n");
    assert_eq!(second.compile_cached, Some(true));
    assert_eq!(second.compile_time_ms, first.compile_time_ms);
    assert_eq!(second.compile_wall_time_ms, first.compile_wall_time_ms);
    assert_eq!(second.compile_output, first.compile_output);
    let s = e.compile_cache_stats().unwrap();
    assert_eq!((s.hits, s.misses, s.stores), (1, 1, 1), "{s:?}");

    // A changed source is another key: compiled again.
    let mut other = sum_c("1 2");
    other.files[0].content.push_str("// changed\n");
    let third = run(&e, other).await;
    assert_eq!(third.compile_cached, Some(false));
    assert_eq!(third.stdout, "3\n");

    // The entries outlive the engine: a new one (a restarted node) hits.
    drop(e);
    let restarted = cached_engine(dir.path());
    let again = run(&restarted, sum_c("5 5")).await;
    assert_eq!(
        (again.compile_cached, again.stdout.as_str()),
        (Some(true), "10\n")
    );
    // Interpreted languages have no compile step to cache.
    let py = run(
        &restarted,
        submission("python", vec![source("main.py", "print(1)")]),
    )
    .await;
    assert_eq!(py.compile_cached, None);
}

/// A compile error is cached and reported exactly as the first time (only
/// `compile_cached` differs), without a box.
#[tokio::test]
async fn a_compile_error_is_cached_and_reported_identically() {
    let dir = tempfile::tempdir().unwrap();
    let e = cached_engine(dir.path());
    let bad = || {
        submission(
            "c",
            vec![source("main.c", "int main(void) { return oops; }\n")],
        )
    };
    let first = run(&e, bad()).await;
    assert_eq!(first.status, Status::CompilationError, "{first:?}");
    assert!(first.compile_output.contains("oops"), "{first:?}");
    assert_eq!(first.compile_cached, Some(false));
    let second = run(&e, bad()).await;
    assert_eq!(second.compile_cached, Some(true));
    let mut same = second.clone();
    same.compile_cached = first.compile_cached;
    assert_eq!(same, first);
}

/// A program that replaces its own binary (and litters /box) while it
/// runs cannot change the cache: artifacts are taken before any program
/// runs, and each hit writes them into a fresh box.
#[tokio::test]
async fn a_program_that_replaces_its_own_binary_does_not_poison_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let e = cached_engine(dir.path());
    let hostile = "#include <stdio.h>\n#include <sys/stat.h>\n\
        int main(void){\n\
          printf(\"original\\n\");\n\
          if (remove(\"main\") != 0) { perror(\"remove\"); return 1; }\n\
          FILE *f = fopen(\"main\", \"w\");\n\
          if (!f) { perror(\"fopen\"); return 1; }\n\
          fputs(\"#!/bin/sh\\necho poisoned\\n\", f); fclose(f);\n\
          chmod(\"main\", 0755);\n\
          FILE *g = fopen(\"extra.class\", \"w\"); if (g) { fputs(\"x\", g); fclose(g); }\n\
          return 0; }\n";
    let sub = || submission("c", vec![source("main.c", hostile)]);
    for round in 0..3 {
        let r = run(&e, sub()).await;
        assert_eq!(r.status, Status::Accepted, "round {round}: {r:?}");
        assert_eq!(r.stdout, "original\n", "round {round}");
        assert_eq!(r.compile_cached, Some(round > 0), "round {round}");
    }
    let s = e.compile_cache_stats().unwrap();
    assert_eq!((s.hits, s.stores, s.corrupt), (2, 1, 0), "{s:?}");
}

/// Java leaves several class files (an inner class too): all of them come
/// back on a hit.
#[tokio::test]
async fn every_class_file_of_a_java_compile_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let e = cached_engine(dir.path());
    let code = "public class Main {\n  static class Inner { int v() { return 41; } }\n  interface Op { int f(int x); }\n  public static void main(String[] a) {\n    Op inc = x -> x + 1;\n    Op anon = new Op() { public int f(int x) { return x; } };\n    System.out.println(anon.f(inc.f(new Inner().v())));\n  }\n}\n";
    let sub = || submission("java", vec![source("Main.java", code)]);
    let first = run(&e, sub()).await;
    assert_eq!(
        (first.status, first.stdout.as_str()),
        (Status::Accepted, "42\n"),
        "{first:?}"
    );
    let second = run(&e, sub()).await;
    assert_eq!(second.compile_cached, Some(true));
    assert_eq!(
        (second.status, second.stdout.as_str()),
        (Status::Accepted, "42\n"),
        "{second:?}"
    );
}

/// The output cap is not in the key: an entry whose compile output is over
/// this submission's budget is not used (that compile would have been
/// stopped), and the compile runs and says so.
#[tokio::test]
async fn a_cached_output_over_the_budget_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let e = cached_engine(dir.path());
    let warns = "#warning \"a warning of some length to fill the compile output\"\nint main(void){return 0;}\n";
    let first = run(&e, submission("c", vec![source("main.c", warns)])).await;
    assert_eq!(first.status, Status::Accepted, "{first:?}");
    assert!(first.compile_output.len() > 40, "{first:?}");
    let mut small = submission("c", vec![source("main.c", warns)]);
    small.limits.output_bytes = 40;
    let second = run(&e, small).await;
    assert_eq!(second.compile_cached, Some(false), "{second:?}");
    assert_eq!(second.status, Status::CompilationError, "{second:?}");
    assert!(
        second.message.as_deref().unwrap_or("").contains("40 bytes"),
        "{second:?}"
    );
}

/// `kiln run` keeps its cache in `$XDG_CACHE_HOME/kiln/compile-cache`;
/// `--no-cache` compiles and stores nothing.
#[test]
fn kiln_run_caches_under_xdg_cache_home() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("hello.c");
    std::fs::write(&src, "#include <stdio.h>\nint main(void){puts(\"hi\");}\n").unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .env("XDG_CACHE_HOME", home.path())
            .args(["run", "--json"])
            .args(extra)
            .arg(&src)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(run(&["--no-cache"])["compile_cached"], false);
    assert!(
        !home.path().join("kiln").exists(),
        "--no-cache wrote a cache"
    );
    let first = run(&[]);
    let second = run(&[]);
    assert_eq!(
        (&first["compile_cached"], &first["stdout"]),
        (&serde_json::json!(false), &serde_json::json!("hi\n"))
    );
    assert_eq!(
        (&second["compile_cached"], &second["stdout"]),
        (&serde_json::json!(true), &serde_json::json!("hi\n"))
    );
    assert!(home.path().join("kiln/compile-cache/entries").is_dir());
}
