//! The per-language test programs in `crates/lang/testdata/` (layout in its
//! README): every language has [`Kind::Hello`], [`Kind::Echo`] and
//! [`Kind::RuntimeError`], compiled ones also [`Kind::CompileError`].
//!
//! Layout: `testdata/<id>/<kind>.<ext>`; a language whose entry file name is
//! fixed (Java's `Main.java`) uses `testdata/<id>/<kind>/<default_file>`.

use std::path::PathBuf;

use crate::builtin::spec_for;

/// What `hello` prints.
pub const HELLO_OUTPUT: &str = "Hello, Kiln!\n";

/// One kind of test program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Prints [`HELLO_OUTPUT`].
    Hello,
    /// Copies all of stdin to stdout, byte for byte.
    Echo,
    /// Compiles, then fails at run time (see [`runtime_error_exit`]).
    RuntimeError,
    /// Does not compile (compiled languages only).
    CompileError,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Hello,
        Kind::Echo,
        Kind::RuntimeError,
        Kind::CompileError,
    ];

    /// The file (or folder) stem: "hello", "echo", "runtime_error", "compile_error".
    pub fn stem(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Echo => "echo",
            Kind::RuntimeError => "runtime_error",
            Kind::CompileError => "compile_error",
        }
    }
}

/// How a `runtime_error` program ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exits with this status.
    Code(i32),
    /// Is killed by this signal.
    Signal(i32),
}

/// The `testdata/` directory of this crate.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The test program of `kind` for a language id (or alias), if there is one.
pub fn program(lang: &str, kind: Kind) -> Option<PathBuf> {
    let spec = spec_for(lang)?;
    let base = dir().join(spec.id);
    let in_folder = base.join(kind.stem()).join(spec.default_file);
    let flat = base.join(format!("{}.{}", kind.stem(), spec.extensions[0]));
    [in_folder, flat].into_iter().find(|p| p.is_file())
}

/// How each language's `runtime_error` program ends (also noted in a comment
/// in each file).
pub fn runtime_error_exit(lang: &str) -> Option<Exit> {
    let exit = match spec_for(lang)?.id {
        "c" | "bash" | "lua" => Exit::Code(3),
        "cpp" => Exit::Signal(6), // uncaught exception → std::terminate → SIGABRT
        "rust" => Exit::Code(101),
        "go" => Exit::Code(2),
        "php" | "perl" => Exit::Code(255),
        _ => Exit::Code(1), // python, javascript, java, ruby: uncaught exception
    };
    Some(exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::BUILTIN;

    #[test]
    fn every_builtin_language_has_its_test_programs() {
        for spec in BUILTIN {
            for kind in Kind::ALL {
                let wanted = kind != Kind::CompileError || spec.compile.is_some();
                let found = program(spec.id, kind);
                assert_eq!(found.is_some(), wanted, "{} {:?}: {found:?}", spec.id, kind);
            }
            assert!(runtime_error_exit(spec.id).is_some());
        }
    }

    #[test]
    fn programs_are_found_by_alias_too() {
        assert_eq!(program("py", Kind::Hello), program("python", Kind::Hello));
        assert!(program("java", Kind::Hello)
            .unwrap()
            .ends_with("java/hello/Main.java"));
        assert!(program("cobol", Kind::Hello).is_none());
    }
}
