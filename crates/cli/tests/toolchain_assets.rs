//! Toolchain assets through the real sandbox: after a few C++ compiles
//! with the same leading standard includes, later ones use a precompiled
//! header (mounted read-only in the box: the compile succeeds without a
//! word, so GCC found it valid), and Java's compiles use a class-data
//! archive; a program cannot write to the assets.

mod common;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use kiln_engine::{AssetsConfig, Engine, EngineConfig, Report, Status, Submission};

fn engine_with_assets(dir: &Path) -> Engine {
    engine_with(EngineConfig {
        assets: Some(AssetsConfig {
            dir: dir.to_path_buf(),
            max_bytes: 1 << 30,
        }),
        ..EngineConfig::default()
    })
}

/// Runs `make(i)` for i = 0, 1, … until an asset `<kind>-*` is in `dir`
/// (built in the background), then once more; returns that last report.
async fn run_until_built(
    e: &Engine,
    dir: &Path,
    kind: &str,
    make: impl Fn(usize) -> Submission,
) -> Report {
    let until = Instant::now() + Duration::from_secs(300);
    for i in 0.. {
        let built = std::fs::read_dir(dir).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{kind}-"))
        });
        let r = e.execute(make(i)).await;
        assert_eq!(r.status, Status::Accepted, "{r:?}");
        if built {
            return r;
        }
        assert!(Instant::now() < until, "no {kind} asset was built");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unreachable!()
}

const WRITER: &str = r#"#include <cstdio>
#include <vector>
int main() {
    std::vector<int> v{1, 2, 3};
    const char* paths[] = {"/kiln/assets/new", "/kiln/assets/.lock"};
    for (const char* p : paths) {
        FILE* f = std::fopen(p, "w");
        std::printf("%s %s\n", p, f ? "WRITABLE" : "refused");
    }
    std::printf("%zu\n", v.size());
}
"#;

#[tokio::test]
async fn cpp_compiles_take_a_precompiled_header_that_programs_cannot_touch() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine_with_assets(dir.path());
    let r = run_until_built(&e, dir.path(), "pch", |i| {
        // Every source differs (no compile cache here anyway); the leading
        // includes are the same.
        submission(
            "cpp",
            vec![source("main.cpp", &format!("{WRITER}// {i}\n"))],
        )
    })
    .await;
    assert_eq!(
        r.compile_output, "",
        "GCC took the header without a warning"
    );
    assert_eq!(
        r.stdout,
        "/kiln/assets/new refused\n/kiln/assets/.lock refused\n3\n"
    );
    // A source that starts otherwise compiles as before.
    let other = e
        .execute(submission(
            "cpp",
            vec![source(
                "main.cpp",
                "#define X 4\n#include <cstdio>\nint main(){std::printf(\"%d\\n\", X);}\n",
            )],
        ))
        .await;
    assert_eq!(
        (other.status, other.stdout.as_str()),
        (Status::Accepted, "4\n")
    );
    assert!(e.shutdown(Duration::from_secs(20)).await);
}

#[tokio::test]
async fn java_compiles_take_a_class_data_archive() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine_with_assets(dir.path());
    let r = run_until_built(&e, dir.path(), "cds", |i| {
        submission(
            "java",
            vec![source(
                "Main.java",
                &format!("public class Main {{ public static void main(String[] a) {{ System.out.println({i} * 0 + 7); }} }}\n"),
            )],
        )
    })
    .await;
    assert_eq!(r.compile_output, "");
    assert_eq!(r.stdout, "7\n");
    assert!(e.shutdown(Duration::from_secs(20)).await);
}
