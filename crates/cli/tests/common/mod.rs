//! Shared setup for end-to-end tests: an `Engine` whose sandbox helper is the
//! real `kiln` binary, as in production.
#![allow(dead_code)]

use kiln_engine::{Engine, EngineConfig, HelperCommand, Limits, SourceFile, Submission};

pub fn engine() -> Engine {
    engine_with(EngineConfig::default())
}

/// An engine of `cfg` with the real helper and two boxes.
pub fn engine_with(cfg: EngineConfig) -> Engine {
    let cfg = EngineConfig {
        helper: HelperCommand {
            program: env!("CARGO_BIN_EXE_kiln").into(),
            args: vec!["__box".into()],
        },
        max_boxes: 2,
        ..cfg
    };
    Engine::new(cfg).expect("the sandbox needs root, cgroups and namespaces")
}

pub fn submission(language: &str, files: Vec<SourceFile>) -> Submission {
    Submission {
        language: language.into(),
        files,
        stdin: String::new(),
        args: vec![],
        expected_output: None,
        limits: Limits {
            wall_time_ms: 20_000,
            ..Limits::default()
        },
        tests: vec![],
        ..Default::default()
    }
}

pub fn source(name: &str, content: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        content: content.into(),
    }
}
