//! Every language of the catalogue, in the real sandbox through the engine:
//! hello world, an echo of stdin, a runtime error, a compile error (where the
//! language compiles), and several tests in one submission.

mod common;
use common::*;
use kiln_engine::{Status, TestCase};
use kiln_lang::testdata::{self, Exit, Kind, HELLO_OUTPUT};

async fn check_language(id: &str) {
    let engine = engine();
    assert!(
        engine.catalog().get(id).is_some(),
        "{id} is not installed; run scripts/install-toolchains.sh"
    );
    let file = |kind: Kind| {
        let p =
            testdata::program(id, kind).unwrap_or_else(|| panic!("{id} has no {kind:?} program"));
        source(
            p.file_name().unwrap().to_str().unwrap(),
            &std::fs::read_to_string(&p).unwrap(),
        )
    };

    let mut hello = submission(id, vec![file(Kind::Hello)]);
    hello.expected_output = Some(HELLO_OUTPUT.into());
    let r = engine.execute(hello.clone()).await;
    assert_eq!(r.status, Status::Accepted, "{id} hello: {r:?}");
    assert_eq!(r.stdout, HELLO_OUTPUT);
    assert!(r.wall_time_ms < 20_000 && r.memory_kb > 0, "{r:?}");

    hello.expected_output = Some("Goodbye\n".into());
    assert_eq!(
        engine.execute(hello).await.status,
        Status::WrongAnswer,
        "{id}"
    );

    let input = "line one\nünïcödé ✓\r\n\ttabs and  spaces\nno final newline";
    let mut echo = submission(id, vec![file(Kind::Echo)]);
    echo.stdin = input.into();
    let r = engine.execute(echo.clone()).await;
    assert_eq!(r.status, Status::Accepted, "{id} echo: {r:?}");
    assert_eq!(r.stdout, input, "{id} echo changed its input");

    echo.tests = vec![
        TestCase {
            stdin: "a\n".into(),
            expected_output: Some("a".into()),
        },
        TestCase {
            stdin: "b\n".into(),
            expected_output: Some("c\n".into()),
        },
        TestCase {
            stdin: "d".into(),
            expected_output: Some("d\n".into()),
        },
    ];
    let r = engine.execute(echo).await;
    let per_test: Vec<Status> = r.tests.iter().map(|t| t.status).collect();
    assert_eq!(
        per_test,
        vec![Status::Accepted, Status::WrongAnswer, Status::Accepted],
        "{id}: {r:?}"
    );
    assert_eq!(r.status, Status::WrongAnswer);
    assert_eq!(
        r.stdout, "b\n",
        "top-level fields are the first failing test's"
    );

    let r = engine
        .execute(submission(id, vec![file(Kind::RuntimeError)]))
        .await;
    assert_eq!(r.status, Status::RuntimeError, "{id} runtime error: {r:?}");
    match testdata::runtime_error_exit(id).unwrap() {
        Exit::Code(c) => assert_eq!((r.exit_code, r.signal), (Some(c), None), "{id}"),
        Exit::Signal(s) => assert_eq!(r.signal, Some(s), "{id}"),
    }
    assert!(r.stdout.contains("before the error"), "{id}: {r:?}");

    if engine.catalog().get(id).unwrap().is_compiled() {
        let r = engine
            .execute(submission(id, vec![file(Kind::CompileError)]))
            .await;
        assert_eq!(
            r.status,
            Status::CompilationError,
            "{id} compile error: {r:?}"
        );
        assert!(
            !r.compile_output.trim().is_empty(),
            "{id}: the compiler's message is missing"
        );
        assert!(r.stdout.is_empty());
    }
}

macro_rules! languages {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(#[tokio::test] async fn $name() { check_language($id).await })*
    };
}

languages! {
    python => "python", javascript => "javascript", c => "c", cpp => "cpp", java => "java",
    rust => "rust", go => "go", bash => "bash", ruby => "ruby", php => "php", perl => "perl", lua => "lua",
}

#[tokio::test]
async fn cpp_is_cpp20_and_headers_are_included_not_compiled() {
    let engine = engine();
    let header = "#pragma once\n#include <concepts>\ntemplate <typename T> concept Num = std::integral<T>;\ntemplate <Num T> T twice(T x) { return 2 * x; }\n";
    let main = "#include <iostream>\n#include \"twice.hpp\"\nint main() { std::cout << twice(21) << std::endl; }\n";
    let mut sub = submission(
        "cpp",
        vec![source("main.cpp", main), source("twice.hpp", header)],
    );
    sub.expected_output = Some("42\n".into());
    let r = engine.execute(sub).await;
    assert_eq!(r.status, Status::Accepted, "{r:?}");
    assert!(
        r.compile_output.is_empty(),
        "the header was compiled as a unit: {}",
        r.compile_output
    );
}
