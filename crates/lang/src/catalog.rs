//! [`Catalog`]: the languages this host can run, and the ones it cannot.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::builtin::spec_for;
use crate::detect::{detect_all, detect_one};
use crate::language::{Language, Missing};

/// Every known language, split into available and missing on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    available: Vec<Language>,
    missing: Vec<Missing>,
}

impl Catalog {
    /// Probes every known language on the host (each version command under a
    /// timeout, all in parallel). Never panics: a toolchain that cannot be
    /// probed is reported in [`Catalog::missing`].
    pub fn detect() -> Catalog {
        let (available, missing) = detect_all();
        Catalog { available, missing }
    }

    /// Probes only the language that `name` (an id, alias or file
    /// extension, as [`Catalog::get`] takes) names, so that one program does
    /// not wait for every toolchain's version command; `None` when no known
    /// language has that name. The catalogue holds that language, available
    /// or missing, and nothing else.
    pub fn detect_language(name: &str) -> Option<Catalog> {
        let (available, missing) = detect_one(spec_for(name)?);
        Some(Catalog { available, missing })
    }

    /// A catalogue from explicit parts (tests, or a catalogue shipped by a
    /// worker).
    pub fn from_parts(available: Vec<Language>, missing: Vec<Missing>) -> Catalog {
        Catalog { available, missing }
    }

    /// The available language with this id or alias, case-insensitive; an
    /// extension ("rb", "cc") is accepted as a last resort.
    pub fn get(&self, id_or_alias: &str) -> Option<&Language> {
        let eq = |s: &String| s.eq_ignore_ascii_case(id_or_alias);
        self.available
            .iter()
            .find(|l| eq(&l.id) || l.aliases.iter().any(eq))
            .or_else(|| self.available.iter().find(|l| l.extensions.iter().any(eq)))
    }

    /// The available language for a file, by its extension (case-insensitive).
    pub fn for_file(&self, path: &Path) -> Option<&Language> {
        self.available.iter().find(|l| l.matches_file(path))
    }

    /// Why a known language is not available, when `id_or_alias` (or a file
    /// extension) names a missing one: lets callers tell "unknown language"
    /// from "install this".
    pub fn find_missing(&self, id_or_alias: &str) -> Option<&Missing> {
        let spec = spec_for(id_or_alias)?;
        self.missing.iter().find(|m| m.id == spec.id)
    }

    /// Languages the host can run, in catalogue order.
    pub fn available(&self) -> &[Language] {
        &self.available
    }

    /// Known languages the host cannot run, with an install hint each.
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// Ids of the available languages (for error messages).
    pub fn ids(&self) -> Vec<&str> {
        self.available.iter().map(|l| l.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Mount;

    pub(crate) fn lang(id: &str, aliases: &[&str], exts: &[&str], compiled: bool) -> Language {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Language {
            id: id.into(),
            name: format!("{id} 1.0"),
            version: "1.0".into(),
            aliases: owned(aliases),
            extensions: owned(exts),
            default_file: format!("main.{}", exts[0]),
            compile: compiled.then(|| owned(&["/opt/x/bin/cc", "{files}"])),
            run: owned(&["./main"]),
            env: vec![("PATH".into(), "/opt/x/bin:/usr/bin".into())],
            mounts: vec![Mount {
                host: "/host/x".into(),
                inside: "/opt/x".into(),
            }],
            etc: vec![],
            min_processes: 1,
            compile_min_processes: u32::from(compiled),
            accel: Default::default(),
        }
    }

    fn sample() -> Catalog {
        Catalog::from_parts(
            vec![
                lang("python", &["py", "python3"], &["py"], false),
                lang("cpp", &["c++", "g++"], &["cpp", "cc", "cxx"], true),
                lang("ruby", &[], &["rb"], false),
            ],
            vec![Missing {
                id: "go".into(),
                reason: "go not found".into(),
                install_hint: "apt-get install -y golang-go".into(),
            }],
        )
    }

    #[test]
    fn lookup_by_id_alias_and_extension_ignores_case() {
        let c = sample();
        assert_eq!(c.get("python").unwrap().id, "python");
        assert_eq!(c.get("PY").unwrap().id, "python");
        assert_eq!(c.get("Python3").unwrap().id, "python");
        assert_eq!(c.get("C++").unwrap().id, "cpp");
        assert_eq!(c.get("rb").unwrap().id, "ruby");
        assert!(c.get("go").is_none());
        assert!(c.get("cobol").is_none());
    }

    #[test]
    fn lookup_by_file() {
        let c = sample();
        assert_eq!(c.for_file(Path::new("src/main.py")).unwrap().id, "python");
        assert_eq!(c.for_file(Path::new("a.CC")).unwrap().id, "cpp");
        assert_eq!(c.for_file(Path::new("x.cxx")).unwrap().id, "cpp");
        assert!(c.for_file(Path::new("Makefile")).is_none());
        assert!(c.for_file(Path::new("main.go")).is_none());
    }

    #[test]
    fn missing_languages_are_found_by_alias() {
        let c = sample();
        assert_eq!(
            c.find_missing("golang").unwrap().install_hint,
            "apt-get install -y golang-go"
        );
        assert!(c.find_missing("python").is_none());
        assert!(c.find_missing("cobol").is_none());
        assert_eq!(c.ids(), ["python", "cpp", "ruby"]);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let json = sample().to_json();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&json), ["available", "missing"]);
        let first = &json["available"][0];
        assert_eq!(
            keys(first),
            ["compiled", "extensions", "id", "name", "version"]
        );
        assert_eq!(first["id"], "python");
        assert_eq!(first["compiled"], false);
        assert_eq!(json["available"][1]["compiled"], true);
        assert_eq!(
            json["available"][1]["extensions"],
            serde_json::json!(["cpp", "cc", "cxx"])
        );
        assert_eq!(keys(&json["missing"][0]), ["id", "install_hint", "reason"]);
        assert_eq!(json["missing"][0]["id"], "go");
    }

    #[test]
    fn table_lists_both_sides() {
        let table = sample().render_table();
        assert!(table.contains("python") && table.contains("c++"), "{table}");
        assert!(table.contains("apt-get install -y golang-go"), "{table}");
    }

    #[test]
    fn languages_round_trip_through_serde() {
        let c = sample();
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Catalog>(&text).unwrap(), c);
    }

    #[test]
    fn host_paths_replace_mount_paths() {
        let l = lang("rust", &[], &["rs"], true);
        let argv = l.host_argv(l.compile.as_ref().unwrap());
        assert_eq!(argv[0], "/host/x/bin/cc");
        assert_eq!(l.host_env()[0].1, "/host/x/bin:/usr/bin");
    }
}
