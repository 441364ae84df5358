//! Judge0 language ids onto Kiln's catalogue.
//!
//! Each Kiln language answers to the id Judge0 CE 1.13.1 gives it
//! (`db/languages/active.rb`), to the older CE ids of the same language
//! (other compiler versions) and to the ids of the hosted Judge0 ("1.14.0",
//! the official SDK's `LANGUAGE_TO_LANGUAGE_ID`). The ids CE 1.13.1 archived
//! are refused as Judge0 refuses them. Kiln's other languages get stable ids
//! from [`EXTRA_BASE`] up (a hash of their Kiln id).

use crate::executor::LanguageInfo;

/// One Judge0 id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    /// Kiln's language id.
    pub kiln: &'static str,
    /// Judge0's name for this id (used by `/languages/all` for languages
    /// this server lacks, and for archived ids).
    pub judge0_name: &'static str,
    pub archived: bool,
}

const fn e(id: u32, kiln: &'static str, judge0_name: &'static str) -> Entry {
    Entry {
        id,
        kiln,
        judge0_name,
        archived: false,
    }
}

const fn a(id: u32, kiln: &'static str, judge0_name: &'static str) -> Entry {
    Entry {
        id,
        kiln,
        judge0_name,
        archived: true,
    }
}

/// Every Judge0 id Kiln knows, the CE 1.13.1 one of each language first.
pub const TABLE: &[Entry] = &[
    e(71, "python", "Python (3.8.1)"),
    e(92, "python", "Python (3.11.2)"),
    e(100, "python", "Python (3.12.5)"),
    e(109, "python", "Python (3.13.2)"),
    e(113, "python", "Python (3.14.0)"),
    e(63, "javascript", "JavaScript (Node.js 12.14.0)"),
    e(93, "javascript", "JavaScript (Node.js 18.15.0)"),
    e(97, "javascript", "JavaScript (Node.js 20.17.0)"),
    e(102, "javascript", "JavaScript (Node.js 22.08.0)"),
    e(50, "c", "C (GCC 9.2.0)"),
    e(48, "c", "C (GCC 7.4.0)"),
    e(49, "c", "C (GCC 8.3.0)"),
    e(103, "c", "C (GCC 14.1.0)"),
    e(54, "cpp", "C++ (GCC 9.2.0)"),
    e(52, "cpp", "C++ (GCC 7.4.0)"),
    e(53, "cpp", "C++ (GCC 8.3.0)"),
    e(105, "cpp", "C++ (GCC 14.1.0)"),
    e(62, "java", "Java (OpenJDK 13.0.1)"),
    e(91, "java", "Java (JDK 17.0.6)"),
    e(73, "rust", "Rust (1.40.0)"),
    e(108, "rust", "Rust (1.85.0)"),
    e(60, "go", "Go (1.13.5)"),
    e(95, "go", "Go (1.18.5)"),
    e(106, "go", "Go (1.22.0)"),
    e(107, "go", "Go (1.23.5)"),
    e(46, "bash", "Bash (5.0.0)"),
    e(72, "ruby", "Ruby (2.7.0)"),
    e(68, "php", "PHP (7.4.1)"),
    e(98, "php", "PHP (8.3.11)"),
    e(85, "perl", "Perl (5.28.1)"),
    e(64, "lua", "Lua (5.3.5)"),
    // Archived in CE 1.13.1 (`db/languages/archived.rb`): refused with 422.
    a(4, "c", "C (gcc 7.2.0)"),
    a(10, "cpp", "C++ (g++ 7.2.0)"),
    a(22, "go", "Go (1.9)"),
    a(26, "java", "Java (OpenJDK 9 with Eclipse OpenJ9)"),
    a(27, "java", "Java (OpenJDK 8)"),
    a(28, "java", "Java (OpenJDK 7)"),
    a(29, "javascript", "JavaScript (nodejs 8.5.0)"),
    a(34, "python", "Python (3.6.0)"),
    a(38, "ruby", "Ruby (2.4.0)"),
    a(42, "rust", "Rust (1.20.0)"),
];

/// Ids of Kiln's languages that Judge0 has no id for start here.
pub const EXTRA_BASE: u32 = 1000;

/// The stable Judge0 id of a Kiln language Judge0 has no id for.
pub fn extra_id(kiln: &str) -> u32 {
    let hash = kiln.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    EXTRA_BASE + hash % 9000
}

/// A Judge0 language as this server serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub id: u32,
    pub name: String,
    pub kiln: String,
    pub archived: bool,
    /// Kiln has it installed here.
    pub installed: bool,
    pub compiled: bool,
}

/// `"Python (3.11.2)"`: Kiln's name and version, as Judge0 writes names.
fn display_name(l: &LanguageInfo) -> String {
    match &l.version {
        Some(v) => format!("{} ({v})", l.name),
        None => l.name.clone(),
    }
}

/// Every Judge0 id this server knows, given the executor's languages.
pub fn all(installed: &[LanguageInfo]) -> Vec<Language> {
    let find = |kiln: &str| installed.iter().find(|l| l.id == kiln);
    let mut out: Vec<Language> = TABLE
        .iter()
        .map(|t| {
            let here = find(t.kiln);
            Language {
                id: t.id,
                name: match here {
                    Some(l) if !t.archived => display_name(l),
                    _ => t.judge0_name.to_string(),
                },
                kiln: t.kiln.to_string(),
                archived: t.archived,
                installed: here.is_some(),
                compiled: here.is_some_and(|l| l.compiled),
            }
        })
        .collect();
    for l in installed {
        if !TABLE.iter().any(|t| t.kiln == l.id) {
            out.push(Language {
                id: extra_id(&l.id),
                name: display_name(l),
                kiln: l.id.clone(),
                archived: false,
                installed: true,
                compiled: l.compiled,
            });
        }
    }
    out
}

/// One id, installed or not.
pub fn by_id(installed: &[LanguageInfo], id: u32) -> Option<Language> {
    all(installed).into_iter().find(|l| l.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> LanguageInfo {
        LanguageInfo {
            id: id.into(),
            name: id.to_uppercase(),
            version: Some("1".into()),
            compiled: false,
        }
    }

    #[test]
    fn ids_are_unique_and_the_sdk_ids_are_there() {
        let mut ids: Vec<u32> = TABLE.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate Judge0 ids");
        // The official SDK's ids for "1.13.1" and "1.14.0".
        for (id, kiln) in [
            (71, "python"),
            (63, "javascript"),
            (50, "c"),
            (52, "cpp"),
            (62, "java"),
            (73, "rust"),
            (60, "go"),
            (46, "bash"),
            (72, "ruby"),
            (68, "php"),
            (85, "perl"),
            (64, "lua"),
            (113, "python"),
            (102, "javascript"),
            (103, "c"),
            (105, "cpp"),
            (108, "rust"),
            (107, "go"),
            (98, "php"),
            (91, "java"),
        ] {
            let t = TABLE
                .iter()
                .find(|t| t.id == id)
                .unwrap_or_else(|| panic!("id {id}"));
            assert_eq!((t.kiln, t.archived), (kiln, false), "id {id}");
        }
    }

    #[test]
    fn other_languages_get_stable_ids_above_judge0s() {
        let langs = all(&[info("python"), info("zig")]);
        let zig = langs.iter().find(|l| l.kiln == "zig").unwrap();
        assert_eq!(zig.id, extra_id("zig"));
        assert!(zig.id >= EXTRA_BASE);
        let py = by_id(&[info("python")], 71).unwrap();
        assert!(py.installed && py.name == "PYTHON (1)");
        assert!(!by_id(&[], 71).unwrap().installed);
        assert!(by_id(&[], 34).unwrap().archived);
    }
}
