//! One output budget per submission (issue 11, item 5) and the compile
//! step's time (item 7), through the real engine and sandbox: the bytes kept
//! over all tests never pass `limits.output_bytes`, the exact bytes survive,
//! the result's JSON stays within the stated bound, and a compile is timed
//! and bounded by the compile limits.

mod common;
use common::*;
use kiln_engine::{Engine, EngineConfig, HelperCommand, Limits, Report, Status, TestCase};
use kiln_server::model::{Encoding, ReportView};

const BUDGET: u64 = 1 << 20;

/// Bytes kept in a report's tests (the top-level fields copy one of them).
fn kept(r: &Report) -> u64 {
    let exact = |t: &str, raw: &Option<Vec<u8>>| kiln_engine::exact_bytes(t, raw).len() as u64;
    r.tests
        .iter()
        .map(|t| exact(&t.stdout, &t.stdout_bytes) + exact(&t.stderr, &t.stderr_bytes))
        .sum::<u64>()
        + exact(&r.compile_output, &r.compile_output_bytes)
}

/// Four tests of 600 KiB each (NUL, ESC and an invalid byte, the worst case
/// for JSON) under a 1 MiB budget: the first passes, the second goes over what
/// is left, the last two are not run. Before, each test had its own 1 MiB and
/// all four were kept (2.4 MiB, 12 MiB of JSON).
#[tokio::test]
async fn all_tests_share_one_output_budget() {
    let e = engine();
    let program =
        "import sys\nn = int(input())\nsys.stdout.buffer.write(bytes([0, 27, 255]) * (n // 3))\n";
    let mut s = submission("python", vec![source("main.py", program)]);
    s.limits.output_bytes = BUDGET;
    let n = 600 * 1024;
    s.tests = (0..4)
        .map(|_| TestCase {
            stdin: n.to_string(),
            expected_output: None,
        })
        .collect();
    let r = e.execute(s).await;
    let statuses: Vec<Status> = r.tests.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Accepted,
            Status::OutputLimitExceeded,
            Status::OutputLimitExceeded,
            Status::OutputLimitExceeded
        ],
        "{:?}",
        r.message
    );
    assert_eq!(r.status, Status::OutputLimitExceeded);
    assert!(
        r.tests[2]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("not run: tests[1] used up"),
        "{:?}",
        r.tests[2].message
    );
    assert_eq!(
        kept(&r),
        BUDGET,
        "the tests together kept more (or less) than the budget"
    );
    // The exact bytes survive beside the lossy text.
    let t0 = &r.tests[0];
    assert_eq!(
        t0.stdout_bytes.as_deref(),
        Some(&[0u8, 27, 255].repeat(n / 3)[..])
    );
    assert!(t0.stdout.contains('\u{fffd}'));
    // The stated bound on the result's JSON: 12 x the budget in text,
    // 8/3 x in base64, plus under 1 KiB per test.
    let text = serde_json::to_string(&ReportView::new(&r, Encoding::Text))
        .unwrap()
        .len() as u64;
    let b64 = serde_json::to_string(&ReportView::new(&r, Encoding::Base64))
        .unwrap()
        .len() as u64;
    eprintln!(
        "kept {} bytes; result JSON {text} bytes as text, {b64} as base64 (budget {BUDGET})",
        kept(&r)
    );
    assert!(text <= 12 * BUDGET + 4 * 1024, "{text}");
    assert!(b64 <= 8 * BUDGET / 3 + 4 * 1024, "{b64}");
    let v: serde_json::Value = serde_json::from_str(
        &serde_json::to_string(&ReportView::new(&r, Encoding::Base64)).unwrap(),
    )
    .unwrap();
    assert_eq!(v["tests"][0]["stdout_lossy"], true);
    let stored = serde_json::to_string(&r).unwrap().len() as u64;
    assert!(
        stored <= 12 * BUDGET + 4 * 1024,
        "stored report {stored} bytes"
    );
}

/// The compile output counts too: a compiler that writes more than the
/// budget is stopped and the submission is a compilation_error saying why.
#[tokio::test]
async fn compile_output_counts_against_the_budget() {
    let e = engine();
    let code = "int main(void) { return x; }\n".repeat(200);
    let mut s = submission("c", vec![source("main.c", &code)]);
    s.limits.output_bytes = 2_000;
    let r = e.execute(s).await;
    assert_eq!(r.status, Status::CompilationError, "{r:?}");
    assert!(
        r.compile_output.len() <= 2_000,
        "{}",
        r.compile_output.len()
    );
    assert!(
        r.message
            .as_deref()
            .unwrap_or_default()
            .contains("bytes of output"),
        "{:?}",
        r.message
    );
}

fn engine_with_compile_cpu(cpu_ms: u64) -> Engine {
    let d = EngineConfig::default();
    let cfg = EngineConfig {
        helper: HelperCommand {
            program: env!("CARGO_BIN_EXE_kiln").into(),
            args: vec!["__box".into()],
        },
        max_boxes: 1,
        compile_limits: Limits {
            cpu_time_ms: cpu_ms,
            ..d.compile_limits
        },
        ..d
    };
    Engine::new(cfg).expect("the sandbox needs root, cgroups and namespaces")
}

/// The compile step's CPU and wall time are reported, and a compile over the
/// compile CPU limit is a compilation_error naming that limit.
#[tokio::test]
async fn compile_time_is_reported_and_bounded() {
    let e = engine();
    let r = e
        .execute(submission(
            "c",
            vec![source(
                "main.c",
                "#include <stdio.h>\nint main(void){puts(\"hi\");}\n",
            )],
        ))
        .await;
    assert_eq!(r.status, Status::Accepted, "{r:?}");
    assert!(r.compile_time_ms.is_some_and(|t| t > 0), "{r:?}");
    assert!(
        r.compile_wall_time_ms
            .is_some_and(|t| t >= r.compile_time_ms.unwrap_or(0) / 2),
        "{r:?}"
    );
    let r = e
        .execute(submission("python", vec![source("main.py", "print(1)")]))
        .await;
    assert_eq!(
        (r.compile_time_ms, r.compile_wall_time_ms),
        (None, None),
        "no compile step"
    );

    let e = engine_with_compile_cpu(100);
    let heavy = "#include <iostream>\n#include <regex>\n#include <map>\nint main(){std::regex r(\"a+\"); std::map<int,int> m; std::cout << std::regex_match(\"aa\", r) << m.size();}\n";
    let r = e
        .execute(submission("cpp", vec![source("main.cpp", heavy)]))
        .await;
    assert_eq!(r.status, Status::CompilationError, "{r:?}");
    let message = r.message.clone().unwrap_or_default();
    assert!(
        message.contains("CPU time limit") && message.contains("limit 100 ms"),
        "{message}"
    );
    assert!(r.compile_time_ms.is_some_and(|t| t >= 100), "{r:?}");
}
