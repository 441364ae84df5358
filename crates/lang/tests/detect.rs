//! Detection on this machine: the installed toolchains are found, and every
//! command they get refers only to paths a box has.

use std::path::Path;
use std::time::{Duration, Instant};

use kiln_lang::{Catalog, BUILTIN_IDS};

/// Installed on every machine Kiln is tested on (see the README's quickstart).
const REQUIRED: &[&str] = &["python", "c", "cpp", "java", "javascript", "bash", "perl"];

#[test]
fn finds_the_installed_toolchains_quickly() {
    let started = Instant::now();
    let catalog = Catalog::detect();
    let took = started.elapsed();
    eprintln!("{}", catalog.render_table());
    assert!(took < Duration::from_secs(20), "detection took {took:?}");
    for id in REQUIRED {
        let lang = catalog.get(id).unwrap_or_else(|| {
            panic!("{id} missing: {:?}", catalog.find_missing(id));
        });
        assert!(
            !lang.version.is_empty() && lang.name.contains(&lang.version),
            "{lang:?}"
        );
    }
    // Every known language is either available or missing with a hint.
    let mut seen: Vec<&str> = catalog.ids();
    for m in catalog.missing() {
        assert!(m.install_hint.starts_with("apt-get install -y "), "{m:?}");
        assert!(!m.reason.is_empty());
        seen.push(&m.id);
    }
    seen.sort_unstable();
    let mut all = BUILTIN_IDS.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all);
}

#[test]
fn commands_use_only_paths_a_box_has() {
    let catalog = Catalog::detect();
    for lang in catalog.available() {
        let argvs = lang.compile.iter().chain(std::iter::once(&lang.run));
        for argv in argvs {
            let bin = &argv[0];
            let inside_a_mount = lang
                .mounts
                .iter()
                .any(|m| Path::new(bin).starts_with(&m.inside));
            assert!(
                bin == "./main" || bin.starts_with("/usr/") || inside_a_mount,
                "{}: {bin} is not visible in a box",
                lang.id
            );
            if !inside_a_mount && bin != "./main" {
                assert!(
                    Path::new(bin).is_file(),
                    "{}: {bin} does not exist",
                    lang.id
                );
            }
        }
        for mount in &lang.mounts {
            assert!(mount.host.is_dir(), "{}: {mount:?}", lang.id);
            assert!(!mount.inside.starts_with("/usr") && !mount.inside.starts_with("/box"));
        }
        for etc in &lang.etc {
            assert!(
                etc.starts_with("/etc/") && Path::new(etc).exists(),
                "{}: {etc}",
                lang.id
            );
        }
        let path = lang.env_var("PATH").expect("PATH is always set");
        assert!(
            path.split(':').any(|d| d == "/usr/bin"),
            "{}: {path}",
            lang.id
        );
        assert_eq!(lang.env_var("HOME"), Some("/tmp"), "{}", lang.id);
        assert!(lang.min_processes > 0);
        assert_eq!(
            lang.is_compiled(),
            lang.compile_min_processes > 0,
            "{}",
            lang.id
        );
    }
}

#[test]
fn java_gets_its_etc_and_a_capped_heap() {
    let catalog = Catalog::detect();
    let java = catalog.get("java").expect("java is installed");
    assert!(
        java.etc.iter().any(|e| e.starts_with("/etc/java-")),
        "{:?}",
        java.etc
    );
    let files = ["Main.java".to_string()];
    let ctx = kiln_lang::ExpandContext {
        files: &files,
        memory_mb: 256,
    };
    let run = java.run_argv(&ctx);
    assert!(run.contains(&"-Xmx192m".to_string()), "{run:?}");
    assert_eq!(run.last().map(String::as_str), Some("Main"));
}

#[test]
fn rust_runs_from_debian_or_a_bound_rustup_toolchain() {
    let catalog = Catalog::detect();
    let Some(rust) = catalog.get("rust") else {
        eprintln!("rust not installed: {:?}", catalog.find_missing("rust"));
        return;
    };
    let rustc = &rust.compile.as_ref().unwrap()[0];
    if rustc == "/usr/bin/rustc" {
        assert!(rust.mounts.is_empty());
    } else {
        assert_eq!(rustc, "/opt/rust/bin/rustc");
        assert_eq!(rust.mounts.len(), 1);
        assert!(rust.mounts[0].host.join("bin/rustc").is_file());
        assert!(rust.env_var("PATH").unwrap().starts_with("/opt/rust/bin:"));
    }
}

#[test]
fn json_lists_every_language_once() {
    let json = Catalog::detect().to_json();
    let available = json["available"].as_array().unwrap();
    let missing = json["missing"].as_array().unwrap();
    assert_eq!(available.len() + missing.len(), BUILTIN_IDS.len());
    for lang in available {
        assert!(lang["version"].as_str().is_some_and(|v| !v.is_empty()));
        assert!(lang["compiled"].is_boolean());
        assert!(lang["extensions"].as_array().is_some_and(|e| !e.is_empty()));
    }
}

/// One language alone, by id, alias or extension, is what full detection
/// finds for it; an unknown name is `None`.
#[test]
fn one_language_is_detected_alone_as_in_the_full_catalogue() {
    let full = Catalog::detect();
    for name in ["python", "py", "cpp", "cc", "Java"] {
        let one = Catalog::detect_language(name).unwrap();
        let lang = one.get(name).unwrap_or_else(|| panic!("{name} not found"));
        assert_eq!(Some(lang), full.get(name), "{name}");
        assert_eq!(one.available().len(), 1, "{name}: only that language");
        assert!(one.missing().is_empty());
    }
    assert!(Catalog::detect_language("cobol").is_none());
}
