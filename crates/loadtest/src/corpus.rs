//! The code corpus: real programs for every language of the plan at three
//! complexity levels, each with its stdin and expected output, embedded in the
//! binary from `crates/loadtest/corpus/<language>/<level>/`.
//!
//! - simple: hello world;
//! - medium: a sieve of Eratosthenes up to N read from stdin;
//! - complex: heavier compile units — C++ templates and concepts, Rust
//!   generics and traits, Java generic classes in four files, C macros in a
//!   header, Go generics, Python and JavaScript modules in two files.
//!
//! `bash`, `ruby`, `php`, `perl` and `lua` (the plan's "others") have simple
//! and medium programs; asking them for `complex` gives `medium`.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

use crate::scenario::{Complexity, LangGroup};

/// Every language the corpus covers (the language ids of Kiln's API).
pub const LANGUAGES: &[&str] = &[
    "python",
    "javascript",
    "c",
    "cpp",
    "java",
    "rust",
    "go",
    "bash",
    "ruby",
    "php",
    "perl",
    "lua",
];

/// One program with its input and expected output.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    pub language: &'static str,
    pub complexity: Complexity,
    /// (file name, content); the first file is the entry point.
    pub files: &'static [(&'static str, &'static str)],
    pub stdin: &'static str,
    pub expected_output: &'static str,
}

macro_rules! program {
    ($lang:literal, $level:ident, $dir:literal, [$($file:literal),+ $(,)?]) => {
        Program {
            language: $lang,
            complexity: Complexity::$level,
            files: &[$(($file, include_str!(concat!("../corpus/", $lang, "/", $dir, "/", $file)))),+],
            stdin: include_str!(concat!("../corpus/", $lang, "/", $dir, "/input.txt")),
            expected_output: include_str!(concat!("../corpus/", $lang, "/", $dir, "/expected.txt")),
        }
    };
}

/// The whole corpus.
pub static CORPUS: &[Program] = &[
    program!("python", Simple, "simple", ["main.py"]),
    program!("python", Medium, "medium", ["main.py"]),
    program!("python", Complex, "complex", ["main.py", "matrix.py"]),
    program!("javascript", Simple, "simple", ["main.js"]),
    program!("javascript", Medium, "medium", ["main.js"]),
    program!("javascript", Complex, "complex", ["main.js", "matrix.js"]),
    program!("c", Simple, "simple", ["main.c"]),
    program!("c", Medium, "medium", ["main.c"]),
    program!("c", Complex, "complex", ["main.c", "matrix.h"]),
    program!("cpp", Simple, "simple", ["main.cpp"]),
    program!("cpp", Medium, "medium", ["main.cpp"]),
    program!("cpp", Complex, "complex", ["main.cpp", "matrix.hpp"]),
    program!("java", Simple, "simple", ["Main.java"]),
    program!("java", Medium, "medium", ["Main.java"]),
    program!(
        "java",
        Complex,
        "complex",
        ["Main.java", "Matrix.java", "Ring.java", "LongRing.java"]
    ),
    program!("rust", Simple, "simple", ["main.rs"]),
    program!("rust", Medium, "medium", ["main.rs"]),
    program!("rust", Complex, "complex", ["main.rs", "matrix.rs"]),
    program!("go", Simple, "simple", ["main.go"]),
    program!("go", Medium, "medium", ["main.go"]),
    program!("go", Complex, "complex", ["main.go"]),
    program!("bash", Simple, "simple", ["main.sh"]),
    program!("bash", Medium, "medium", ["main.sh"]),
    program!("ruby", Simple, "simple", ["main.rb"]),
    program!("ruby", Medium, "medium", ["main.rb"]),
    program!("php", Simple, "simple", ["main.php"]),
    program!("php", Medium, "medium", ["main.php"]),
    program!("perl", Simple, "simple", ["main.pl"]),
    program!("perl", Medium, "medium", ["main.pl"]),
    program!("lua", Simple, "simple", ["main.lua"]),
    program!("lua", Medium, "medium", ["main.lua"]),
];

/// The program of `language` at `complexity`, or at the highest level below it
/// that the language has.
pub fn find(language: &str, complexity: Complexity) -> Option<&'static Program> {
    let of_lang: Vec<&Program> = CORPUS.iter().filter(|p| p.language == language).collect();
    of_lang
        .iter()
        .filter(|p| p.complexity <= complexity)
        .max_by_key(|p| p.complexity)
        .or_else(|| of_lang.first())
        .copied()
}

impl Program {
    /// The files to send; with a nonce, the entry file ends with a comment
    /// carrying it, so the source is unique.
    pub fn files_with(&self, nonce: Option<&str>) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = self
            .files
            .iter()
            .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
            .collect();
        if let Some(n) = nonce {
            files[0].1.push_str(&format!(
                "\n{} kiln-loadtest nonce {n}\n",
                comment_prefix(self.language)
            ));
        }
        files
    }
}

/// The comment syntax of a language (used to make sources unique).
fn comment_prefix(language: &str) -> &'static str {
    match language {
        "python" | "bash" | "ruby" | "perl" => "#",
        "lua" => "--",
        _ => "//",
    }
}

/// Picks programs by the scenario's language and complexity mixes.
#[derive(Debug)]
pub struct Picker {
    languages: Vec<(LangGroup, f64)>,
    complexity: Vec<(Complexity, f64)>,
    unique: bool,
    nonce: AtomicU64,
}

/// One request's program, with its (possibly nonce-tagged) files.
#[derive(Debug, Clone)]
pub struct Pick {
    pub program: &'static Program,
    pub files: Vec<(String, String)>,
}

impl Picker {
    pub fn new(
        languages: Vec<(LangGroup, f64)>,
        complexity: Vec<(Complexity, f64)>,
        unique: bool,
    ) -> Self {
        Picker {
            languages,
            complexity,
            unique,
            nonce: AtomicU64::new(0),
        }
    }

    /// Draws a program; with unique sources, its entry file gets a fresh comment.
    pub fn pick<R: Rng>(&self, rng: &mut R) -> Pick {
        let group = weighted(&self.languages, rng);
        let langs = group.languages();
        let language = langs[rng.gen_range(0..langs.len())];
        let complexity = weighted(&self.complexity, rng);
        let program = find(language, complexity).expect("every corpus language has programs");
        let nonce = self.unique.then(|| {
            format!(
                "{}-{:016x}",
                self.nonce.fetch_add(1, Ordering::Relaxed),
                rng.gen::<u64>()
            )
        });
        Pick {
            program,
            files: program.files_with(nonce.as_deref()),
        }
    }
}

fn weighted<T: Copy, R: Rng>(items: &[(T, f64)], rng: &mut R) -> T {
    let mut x: f64 = rng.gen::<f64>() * items.iter().map(|(_, w)| w).sum::<f64>();
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items.last().expect("mixes are never empty").0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_language_has_every_level_or_a_fallback() {
        for l in LANGUAGES {
            for c in Complexity::ALL {
                assert!(find(l, c).is_some(), "{l} {c}");
            }
        }
        assert_eq!(
            find("ruby", Complexity::Complex).unwrap().complexity,
            Complexity::Medium
        );
    }

    #[test]
    fn mix_is_respected_and_unique_sources_differ() {
        let p = Picker::new(
            vec![(LangGroup::Cpp, 0.8), (LangGroup::Go, 0.2)],
            vec![(Complexity::Complex, 1.0)],
            true,
        );
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let picks: Vec<Pick> = (0..1000).map(|_| p.pick(&mut rng)).collect();
        let cpp = picks.iter().filter(|x| x.program.language == "cpp").count();
        assert!((700..900).contains(&cpp), "{cpp}");
        assert_ne!(picks[0].files[0].1, picks[1].files[0].1);
        assert!(picks
            .iter()
            .all(|x| x.program.complexity == Complexity::Complex));
    }
}
