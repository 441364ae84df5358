use super::*;
use crate::types::{SourceFile, TestCase};

fn sub() -> Submission {
    Submission {
        language: "python".into(),
        files: vec![SourceFile {
            name: "main.py".into(),
            content: "print(1)".into(),
        }],
        stdin: String::new(),
        args: Vec::new(),
        expected_output: None,
        limits: Limits::default(),
        tests: Vec::new(),
        ..Default::default()
    }
}

#[test]
fn compiler_options_are_flags_never_shell_syntax() {
    let with = |opts: &[&str]| {
        let mut s = sub();
        s.compiler_options = opts.iter().map(|o| o.to_string()).collect();
        check(&s, &rules())
    };
    for ok in [
        &[][..],
        &["-O2", "-DVALUE=42", "-std=c11", "-I./inc", "-Wl,-z,now"],
    ] {
        assert!(with(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        &["-O2;", "rm"][..],
        &["$(id)"],
        &["`id`"],
        &["a b"],
        &[""],
        &["@opts"],
        &["-DX=\"q\""],
    ] {
        let e = with(bad).unwrap_err();
        assert_eq!(e.field, "compiler_options", "{bad:?}");
    }
    let many: Vec<&str> = vec!["-O2"; MAX_COMPILER_OPTIONS + 1];
    assert!(with(&many).is_err());
    let long = "-D".to_string() + &"x".repeat(MAX_COMPILER_OPTIONS_BYTES);
    assert!(with(&[long.as_str()]).is_err());
    let mut s = sub();
    s.compile_limits.cpu_time_ms = Some(0);
    assert_eq!(
        check(&s, &rules()).unwrap_err().field,
        "compile_limits.cpu_time_ms"
    );
}

fn rules() -> Rules {
    Rules {
        max_files: 3,
        max_source_bytes: 100,
        max_stdin_bytes: 10,
        max_tests: 2,
        max_limits: EngineConfig::default().max_limits,
    }
}

/// (what the test changes, the field named, a word of the message); None: valid.
#[test]
fn the_rules_table() {
    type Case = (
        &'static str,
        fn(&mut Submission),
        Option<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        ("valid", |_| {}, None),
        ("no files", |s| s.files.clear(), Some(("files", "needs"))),
        (
            "four files",
            |s| {
                s.files = (0..4)
                    .map(|i| SourceFile {
                        name: format!("f{i}.py"),
                        content: String::new(),
                    })
                    .collect()
            },
            Some(("files", "at most 3")),
        ),
        (
            "dotdot",
            |s| s.files[0].name = "..".into(),
            Some(("files[0].name", "not a file name")),
        ),
        (
            "slash",
            |s| s.files[0].name = "a/b.py".into(),
            Some(("files[0].name", "plain file name")),
        ),
        (
            "backslash",
            |s| s.files[0].name = "a\\b.py".into(),
            Some(("files[0].name", "plain file name")),
        ),
        (
            "nul",
            |s| s.files[0].name = "a\0.py".into(),
            Some(("files[0].name", "plain file name")),
        ),
        (
            "newline",
            |s| s.files[0].name = "a\n.py".into(),
            Some(("files[0].name", "control")),
        ),
        (
            "escape",
            |s| s.files[0].name = "\u{1b}[2J.py".into(),
            Some(("files[0].name", "control")),
        ),
        (
            "dash",
            |s| s.files[0].name = "-wrapper".into(),
            Some(("files[0].name", "option")),
        ),
        (
            "at",
            |s| s.files[0].name = "@opts".into(),
            Some(("files[0].name", "option")),
        ),
        (
            "gcc wrapper pair",
            |s| {
                s.files.push(SourceFile {
                    name: "-wrapper".into(),
                    content: String::new(),
                })
            },
            Some(("files[1].name", "option")),
        ),
        (
            "comma names are data",
            |s| {
                s.files.push(SourceFile {
                    name: "sh,-c,id;.c".into(),
                    content: String::new(),
                })
            },
            None,
        ),
        (
            "long name",
            |s| s.files[0].name = "a".repeat(256),
            Some(("files[0].name", "255")),
        ),
        (
            "empty name",
            |s| s.files[0].name = String::new(),
            Some(("files[0].name", "1 to 255")),
        ),
        (
            "twice",
            |s| {
                s.files.push(SourceFile {
                    name: "main.py".into(),
                    content: String::new(),
                })
            },
            Some(("files[1].name", "twice")),
        ),
        (
            "big source",
            |s| s.files[0].content = "x".repeat(101),
            Some(("source", "maximum is 100")),
        ),
        (
            "big stdin",
            |s| s.stdin = "x".repeat(11),
            Some(("stdin", "maximum is 10")),
        ),
        (
            "big expected",
            |s| s.expected_output = Some("x".repeat(11)),
            Some(("expected_output", "maximum is 10")),
        ),
        (
            "three tests",
            |s| s.tests = vec![TestCase::default(); 3],
            Some(("tests", "maximum is 2")),
        ),
        (
            "big test stdin",
            |s| {
                s.tests = vec![
                    TestCase::default(),
                    TestCase {
                        stdin: "x".repeat(11),
                        expected_output: None,
                    },
                ]
            },
            Some(("tests[1].stdin", "maximum is 10")),
        ),
        (
            "big test expected",
            |s| {
                s.tests = vec![TestCase {
                    stdin: String::new(),
                    expected_output: Some("x".repeat(11)),
                }]
            },
            Some(("tests[0].expected_output", "maximum")),
        ),
        (
            "65 args",
            |s| s.args = vec!["a".into(); 65],
            Some(("args", "at most 64")),
        ),
        (
            "long arg",
            |s| s.args = vec!["a".repeat(4097)],
            Some(("args[0]", "4096")),
        ),
        (
            "nul arg",
            |s| s.args = vec!["ok".into(), "a\0b".into()],
            Some(("args[1]", "NUL")),
        ),
        (
            "40 x 4000 args",
            |s| s.args = vec!["a".repeat(4000); 40],
            Some(("args", "8192")),
        ),
        (
            "2 x 4096 args",
            |s| s.args = vec!["a".repeat(4096); 2],
            None,
        ),
        (
            "3 x 4096 args",
            |s| s.args = vec!["a".repeat(4096); 3],
            Some(("args", "8192")),
        ),
        (
            "zero cpu",
            |s| s.limits.cpu_time_ms = 0,
            Some(("limits.cpu_time_ms", "at least 1")),
        ),
        (
            "huge memory",
            |s| s.limits.memory_kb = u64::MAX,
            Some(("limits.memory_kb", "above the maximum")),
        ),
        (
            "tiny memory",
            |s| s.limits.memory_kb = 100,
            Some(("limits.memory_kb", "4096")),
        ),
        (
            "zero processes",
            |s| s.limits.processes = 0,
            Some(("limits.processes", "at least 1")),
        ),
        (
            "huge output",
            |s| s.limits.output_bytes = 1 << 40,
            Some(("limits.output_bytes", "maximum")),
        ),
    ];
    for (what, change, want) in cases {
        let mut s = sub();
        change(&mut s);
        match (check(&s, &rules()), want) {
            (Ok(()), None) => {}
            (Err(e), Some((field, word))) => {
                assert_eq!(e.field, field, "{what}: {e}");
                assert!(e.message.contains(word), "{what}: {e}");
            }
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn limit_over_max_names_the_field() {
    let max = EngineConfig::default().max_limits;
    assert_eq!(limit_over_max(&Limits::default(), &max), None);
    assert_eq!(
        limit_over_max(
            &Limits {
                wall_time_ms: max.wall_time_ms + 1,
                ..Limits::default()
            },
            &max
        ),
        Some("wall_time_ms")
    );
}
