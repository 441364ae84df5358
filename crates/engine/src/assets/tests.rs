use std::time::Duration;

use super::*;

fn recipe(key: &str, bytes: usize, quiet_output: bool) -> Recipe {
    let script = format!("head -c {bytes} /dev/zero > blob; echo built > log");
    let check = if quiet_output {
        "true"
    } else {
        "echo complaint"
    };
    Recipe {
        kind: "test",
        key: key.into(),
        files: vec![("input", "x".into())],
        steps: vec![
            Step {
                argv: vec!["/bin/sh".into(), "-c".into(), script],
                quiet: false,
                output: None,
            },
            Step {
                argv: vec!["/bin/sh".into(), "-c".into(), check.into()],
                quiet: true,
                output: None,
            },
        ],
        keep: &["blob"],
        uses: vec!["--asset={dir}/blob".into()],
    }
}

/// Asks until the asset is there (or `deadline` passes).
async fn ready(a: &Arc<Assets>, make: impl Fn() -> Recipe, deadline: Duration) -> Option<Use> {
    let until = Instant::now() + deadline;
    loop {
        if let Some(u) = a.lookup(make()) {
            return Some(u);
        }
        if Instant::now() > until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_asset_is_built_after_enough_uses_kept_whole_and_found_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = Assets::open(dir.path(), 1 << 20).unwrap();
    for _ in 1..BUILD_AFTER {
        assert!(a.lookup(recipe("k1", 1000, true)).is_none());
    }
    let u = ready(&a, || recipe("k1", 1000, true), Duration::from_secs(30))
        .await
        .expect("built");
    assert_eq!(u.options, [format!("--asset={INSIDE}/test-k1/blob")]);
    let built = dir.path().join("test-k1");
    let names: Vec<String> = std::fs::read_dir(&built)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["blob"], "only what the recipe keeps");
    let meta = std::fs::metadata(built.join("blob")).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(
        (meta.len(), meta.permissions().mode() & 0o777),
        (1000, 0o644)
    );
    assert_eq!(meta.uid(), std::fs::metadata(dir.path()).unwrap().uid());
    assert!(
        Assets::open(dir.path(), 1 << 20).is_err(),
        "a second process on the same directory is refused"
    );
    drop((u, a));
    let again = Assets::open(dir.path(), 1 << 20).unwrap();
    assert!(
        again.lookup(recipe("k1", 1000, true)).is_some(),
        "ready at once after a restart"
    );
}

#[tokio::test]
async fn an_asset_its_check_complains_about_is_never_used_nor_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let a = Assets::open(dir.path(), 1 << 20).unwrap();
    for _ in 0..BUILD_AFTER {
        a.lookup(recipe("bad", 10, false));
    }
    // The build runs in the background; wait for it to fail.
    let until = Instant::now() + Duration::from_secs(30);
    while !matches!(a.slots.lock().unwrap().get("bad"), Some(Slot::Failed)) {
        assert!(Instant::now() < until, "the build did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.lookup(recipe("bad", 10, true)).is_none());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "nothing of it is left: {left:?}");
}

#[tokio::test]
async fn the_least_recently_used_asset_no_compile_holds_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let a = Assets::open(dir.path(), 2500).unwrap();
    let old = ready(&a, || recipe("old", 1000, true), Duration::from_secs(30))
        .await
        .unwrap();
    drop(old);
    let held = ready(&a, || recipe("held", 1000, true), Duration::from_secs(30))
        .await
        .unwrap();
    // A third does not fit: the unheld one goes.
    let _new = ready(&a, || recipe("new", 1000, true), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(!dir.path().join("test-old").exists());
    assert!(dir.path().join("test-held").exists());
    // A fourth does not fit beside two held ones: it is dropped.
    for _ in 0..BUILD_AFTER {
        a.lookup(recipe("more", 1000, true));
    }
    let until = Instant::now() + Duration::from_secs(30);
    while !matches!(a.slots.lock().unwrap().get("more"), Some(Slot::Failed)) {
        assert!(Instant::now() < until, "the build did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        dir.path().join("test-held").exists(),
        "a held asset is never evicted"
    );
    drop(held);
}

fn catalog_language(id: &str) -> Language {
    kiln_lang::Catalog::detect()
        .get(id)
        .unwrap_or_else(|| panic!("{id} is not installed here (scripts/install-toolchains.sh)"))
        .clone()
}

fn submission(lang: &str, name: &str, source: &str) -> Submission {
    serde_json::from_value(serde_json::json!({
        "language": lang,
        "files": [{"name": name, "content": source}],
    }))
    .unwrap()
}

#[tokio::test]
async fn a_precompiled_header_is_built_from_the_leading_includes_and_gcc_uses_it() {
    let lang = catalog_language("cpp");
    let dir = tempfile::tempdir().unwrap();
    let a = Assets::open(dir.path(), 1 << 30).unwrap();
    let src = "#include <vector>\n#include <cstdio>\nint main() { std::vector<int> v{1}; std::printf(\"%d\\n\", v[0]); }\n";
    let sub = submission("cpp", "main.cpp", src);
    let units = vec!["main.cpp".to_string()];
    let asked = || a.for_compile(&lang, "test-toolchain", &sub, &units);
    let until = Instant::now() + Duration::from_secs(240);
    let u = loop {
        if let Some(u) = asked() {
            break u;
        }
        assert!(Instant::now() < until, "no precompiled header");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The same compile on the host, pointed at the store's copy: GCC takes
    // the precompiled header (`-H` marks it with `!`) and says nothing else.
    let header = u.options[1].replace(INSIDE, &dir.path().display().to_string());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("main.cpp"), src).unwrap();
    let mut argv = lang.host_argv(lang.compile.as_ref().unwrap());
    argv.retain(|a| a != "{options}" && a != "{files}");
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .args(["-include", &header, "-Winvalid-pch", "-H", "main.cpp"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with(&format!("! {header}.gch")), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // With options of its own, a submission gets none.
    let mut with_options = sub.clone();
    with_options.compiler_options = vec!["-O0".into()];
    assert!(a
        .for_compile(&lang, "test-toolchain", &with_options, &units)
        .is_none());
}

#[tokio::test]
async fn a_javac_class_data_archive_is_built_and_accepted() {
    let lang = catalog_language("java");
    let dir = tempfile::tempdir().unwrap();
    let a = Assets::open(dir.path(), 1 << 30).unwrap();
    let u = ready(
        &a,
        || cds::recipe(&lang, "test-toolchain").unwrap(),
        Duration::from_secs(240),
    )
    .await
    .expect("archive built (its check ran javac with -Xshare:on)");
    assert!(u.options[0].starts_with(&format!("-J-XX:SharedArchiveFile={INSIDE}/cds-")));
}
