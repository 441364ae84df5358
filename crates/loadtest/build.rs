//! Embeds the load-test corpus (`loadtest/corpus/corpus.json` and the program
//! files beside it) into the binary: generates `$OUT_DIR/corpus_gen.rs` with
//! `LANGUAGES`, `OTHERS`, `COMMENTS`, `SAME_AS` and `CORPUS` (`include_str!`
//! of every file). The same manifest is read by the k6 scripts and the Locust
//! file, so the three send the same programs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const LEVELS: [&str; 3] = ["simple", "medium", "complex"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[allow(dead_code)]
    about: String,
    #[allow(dead_code)]
    layout: String,
    others: Vec<String>,
    languages: Vec<Language>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    language: String,
    comment: String,
    levels: BTreeMap<String, Level>,
}

/// A level's files (the first is the entry point), or the level serving it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Level {
    Files(Vec<String>),
    SameAs(String),
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../../loadtest/corpus");
    let corpus = corpus
        .canonicalize()
        .unwrap_or_else(|e| fail(&corpus, &format!("cannot open the directory: {e}")));
    let manifest_path = corpus.join("corpus.json");
    println!("cargo:rerun-if-changed={}", manifest_path.display());
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| fail(&manifest_path, &format!("cannot read it: {e}")));
    let manifest: Manifest = serde_json::from_str(&text)
        .unwrap_or_else(|e| fail(&manifest_path, &format!("invalid manifest: {e}")));
    let code = generate(&manifest, &corpus).unwrap_or_else(|e| fail(&manifest_path, &e));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("corpus_gen.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| fail(&out, &e.to_string()));
}

fn fail(path: &Path, message: &str) -> ! {
    panic!("load-test corpus {}: {message}", path.display());
}

fn variant(level: &str) -> &'static str {
    match level {
        "simple" => "Simple",
        "medium" => "Medium",
        _ => "Complex",
    }
}

/// Checks the manifest against the files and writes the Rust tables.
fn generate(m: &Manifest, dir: &Path) -> Result<String, String> {
    let mut names: Vec<&str> = Vec::new();
    let mut comments = String::new();
    let mut same_as = String::new();
    let mut programs = String::new();
    for l in &m.languages {
        let lang = l.language.as_str();
        if lang.is_empty()
            || !lang
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(format!(
                "language `{lang}`: ids are lowercase letters and digits"
            ));
        }
        if names.contains(&lang) {
            return Err(format!("language `{lang}` is listed twice"));
        }
        names.push(lang);
        if l.comment.trim().is_empty() {
            return Err(format!("language `{lang}`: `comment` is empty"));
        }
        writeln!(comments, "    ({lang:?}, {:?}),", l.comment).unwrap();
        for key in l.levels.keys() {
            if !LEVELS.contains(&key.as_str()) {
                return Err(format!(
                    "language `{lang}`: unknown level `{key}` (levels: {LEVELS:?})"
                ));
            }
        }
        for level in LEVELS {
            match l.levels.get(level) {
                None => return Err(format!("language `{lang}`: level `{level}` is missing")),
                Some(Level::SameAs(other)) => match l.levels.get(other) {
                    Some(Level::Files(_)) => writeln!(
                        same_as,
                        "    ({lang:?}, Complexity::{}, Complexity::{}),",
                        variant(level),
                        variant(other)
                    )
                    .unwrap(),
                    _ => {
                        return Err(format!(
                            "language `{lang}`: level `{level}` names `{other}`, which is not a level with files"
                        ))
                    }
                },
                Some(Level::Files(files)) => {
                    programs.push_str(&program(lang, level, files, &dir.join(lang).join(level))?)
                }
            }
        }
    }
    orphans(m, dir)?;
    for o in &m.others {
        if !names.contains(&o.as_str()) {
            return Err(format!("`others` names `{o}`, which is not in `languages`"));
        }
    }
    Ok(format!(
        "/// Every language the corpus covers (the language ids of Kiln's API).\n\
         pub const LANGUAGES: &[&str] = &{names:?};\n\n\
         /// The languages the plan's \"others\" stands for.\n\
         pub const OTHERS: &[&str] = &{others:?};\n\n\
         /// Each language's line-comment prefix (for the unique-source nonce).\n\
         pub const COMMENTS: &[(&str, &str)] = &[\n{comments}];\n\n\
         /// (language, level asked, level whose program serves it).\n\
         pub const SAME_AS: &[(&str, Complexity, Complexity)] = &[\n{same_as}];\n\n\
         /// The whole corpus.\n\
         pub static CORPUS: &[Program] = &[\n{programs}];\n",
        others = m.others,
    ))
}

/// One `Program { … }` literal; checks that its files exist.
fn program(lang: &str, level: &str, files: &[String], dir: &Path) -> Result<String, String> {
    if files.is_empty() {
        return Err(format!("language `{lang}`, level `{level}`: no files"));
    }
    let path = |name: &str| -> Result<String, String> {
        let p = dir.join(name);
        if name.contains('/') || name.contains("..") || !p.is_file() {
            return Err(format!("{}: no such program file", p.display()));
        }
        println!("cargo:rerun-if-changed={}", p.display());
        Ok(p.display().to_string())
    };
    let mut list = String::new();
    for f in files {
        if f == "input.txt" || f == "expected.txt" {
            return Err(format!(
                "language `{lang}`, level `{level}`: `{f}` is not a source file"
            ));
        }
        write!(list, "({f:?}, include_str!({:?})), ", path(f)?).unwrap();
    }
    Ok(format!(
        "    Program {{\n        language: {lang:?},\n        complexity: Complexity::{},\n        \
         files: &[{list}],\n        stdin: include_str!({:?}),\n        \
         expected_output: include_str!({:?}),\n    }},\n",
        variant(level),
        path("input.txt")?,
        path("expected.txt")?,
    ))
}

/// Every directory and file under the corpus is a program of the manifest
/// (nothing is silently left out).
fn orphans(m: &Manifest, dir: &Path) -> Result<(), String> {
    let listed = |lang: &str, level: &str| {
        m.languages
            .iter()
            .find(|l| l.language == lang)
            .and_then(|l| match l.levels.get(level) {
                Some(Level::Files(files)) => Some(files),
                _ => None,
            })
    };
    let entries = |d: &Path| -> Result<Vec<(String, PathBuf)>, String> {
        println!("cargo:rerun-if-changed={}", d.display());
        let rd = std::fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        rd.map(|e| {
            let e = e.map_err(|e| format!("{}: {e}", d.display()))?;
            Ok((e.file_name().to_string_lossy().into_owned(), e.path()))
        })
        .collect()
    };
    for (lang, lang_dir) in entries(dir)? {
        if lang == "corpus.json" || lang.starts_with('.') {
            continue;
        }
        if !lang_dir.is_dir() {
            return Err(format!("{}: not part of the manifest", lang_dir.display()));
        }
        for (level, level_dir) in entries(&lang_dir)? {
            let Some(files) = listed(&lang, &level) else {
                return Err(format!(
                    "{}: the manifest has no program with files there",
                    level_dir.display()
                ));
            };
            for (name, path) in entries(&level_dir)? {
                if name.starts_with('.') {
                    continue; // editor and OS files
                }
                if !(files.contains(&name) || name == "input.txt" || name == "expected.txt") {
                    return Err(format!("{}: not listed in the manifest", path.display()));
                }
            }
        }
    }
    Ok(())
}
