//! The code corpus: real programs for every language of the plan at three
//! complexity levels, each with its stdin and expected output. The list is
//! `loadtest/corpus/corpus.json`, the programs are the files beside it; both
//! are embedded at build time (`build.rs` generates the tables below), and the
//! k6 scripts (`loadtest/k6`) and the Locust file read the same manifest.
//!
//! - simple: hello world;
//! - medium: a sieve of Eratosthenes up to N read from stdin;
//! - complex: heavier compile units — C++ templates and concepts, Rust
//!   generics and traits, Java generic classes in four files, C macros in a
//!   header, Go generics, Python and JavaScript modules in two files.
//!
//! `bash`, `ruby`, `php`, `perl` and `lua` (the plan's "others") have simple
//! and medium programs; the manifest serves their `complex` with `medium`.
//!
//! The language groups of a plan's mixes ([`LangGroup`]) and the complexity
//! levels ([`Complexity`]) are defined here; scenario files name them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A language of the plan's mixes; `others` spreads over bash, ruby, php, perl, lua.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LangGroup {
    Python,
    Javascript,
    C,
    Cpp,
    Java,
    Rust,
    Go,
    Bash,
    Ruby,
    Php,
    Perl,
    Lua,
    Others,
}

impl LangGroup {
    /// The concrete languages this entry stands for.
    pub fn languages(self) -> &'static [&'static str] {
        match self {
            LangGroup::Python => &["python"],
            LangGroup::Javascript => &["javascript"],
            LangGroup::C => &["c"],
            LangGroup::Cpp => &["cpp"],
            LangGroup::Java => &["java"],
            LangGroup::Rust => &["rust"],
            LangGroup::Go => &["go"],
            LangGroup::Bash => &["bash"],
            LangGroup::Ruby => &["ruby"],
            LangGroup::Php => &["php"],
            LangGroup::Perl => &["perl"],
            LangGroup::Lua => &["lua"],
            LangGroup::Others => OTHERS,
        }
    }
}

/// Complexity level of a corpus program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    Simple,
    Medium,
    Complex,
}

impl Complexity {
    pub const ALL: [Complexity; 3] = [Complexity::Simple, Complexity::Medium, Complexity::Complex];
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Medium => "medium",
            Complexity::Complex => "complex",
        }
    }
}

impl fmt::Display for Complexity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

// LANGUAGES, OTHERS, COMMENTS, SAME_AS and CORPUS, from loadtest/corpus/corpus.json.
include!(concat!(env!("OUT_DIR"), "/corpus_gen.rs"));

/// The program of `language` at `complexity` (or the level the manifest
/// serves it with).
pub fn find(language: &str, complexity: Complexity) -> Option<&'static Program> {
    let level = SAME_AS
        .iter()
        .find(|(l, asked, _)| *l == language && *asked == complexity)
        .map_or(complexity, |(_, _, served)| *served);
    CORPUS
        .iter()
        .find(|p| p.language == language && p.complexity == level)
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

/// The line-comment prefix of a language (used to make sources unique).
fn comment_prefix(language: &str) -> &'static str {
    COMMENTS
        .iter()
        .find(|(l, _)| *l == language)
        .map(|(_, c)| *c)
        .expect("build.rs gives every corpus language a comment prefix")
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
        assert_eq!(
            find("go", Complexity::Complex).unwrap().complexity,
            Complexity::Complex
        );
        assert!(find("cobol", Complexity::Simple).is_none());
        assert_eq!(CORPUS.len(), 31);
        assert_eq!(comment_prefix("lua"), "--");
        assert_eq!(comment_prefix("python"), "#");
    }

    #[test]
    fn every_language_group_of_the_scenarios_is_in_the_corpus() {
        use LangGroup::*;
        let groups = [
            Python, Javascript, C, Cpp, Java, Rust, Go, Bash, Ruby, Php, Perl, Lua, Others,
        ];
        for g in groups {
            for l in g.languages() {
                assert!(LANGUAGES.contains(l), "{g:?} names {l}, not in the corpus");
            }
        }
        assert_eq!(Others.languages(), ["bash", "ruby", "php", "perl", "lua"]);
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
