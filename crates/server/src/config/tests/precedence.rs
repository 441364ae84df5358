//! Every setting, by its one declaration: settable by flag, env var and file,
//! in that precedence (the env layer in a child process of this test binary).

use super::*;

/// Three values of a setting (`--flag` form, TOML form), each unlike the
/// others and unlike the default. A new setting of another type needs a line here.
fn samples(key: &str) -> [(String, String); 3] {
    let quoted = |v: [&str; 3]| v.map(|v| (v.to_string(), format!("{v:?}")));
    match key {
        "queue" => quoted(["redis://h/1", "redis://h/2", "redis://h/3"]),
        "store" => quoted(["postgres://h/1", "postgres://h/2", "postgres://h/3"]),
        "listen" | "metrics_listen" => quoted(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]),
        "data_dir"
        | "workspaces.data_dir"
        | "workspaces.templates_file"
        | "compile_cache_dir"
        | "toolchain_assets_dir" => quoted(["/d1", "/d2", "/d3"]),
        "sqlite_synchronous" => quoted(["normal", "full", "normal"]),
        "queue_prefix" => quoted(["a:", "b:", "c:"]),
        "callback_secret" => quoted(["s1", "s2", "s3"]),
        "api_keys" | "admin_keys" => {
            ["k1", "k2", "k3"].map(|k| (k.to_string(), format!("[{k:?}]")))
        }
        "cors_origins" => ["https://a.test", "https://b.test", "https://c.test"]
            .map(|k| (k.to_string(), format!("[{k:?}]"))),
        "allow_private_callbacks" | "compile_cache" | "toolchain_assets" => {
            ["true", "false", "true"].map(|v| (v.to_string(), v.to_string()))
        }
        "workspaces.enabled" => ["false", "true", "false"].map(|v| (v.to_string(), v.to_string())),
        "default_limits" | "max_limits" => [1001, 1002, 1003].map(|ms| {
            (
                format!("{{\"cpu_time_ms\":{ms}}}"),
                format!("{{ cpu_time_ms = {ms} }}"),
            )
        }),
        "rate_limit_per_sec" | "ip_rate_limit_per_sec" => {
            ["7.5", "8.5", "9.5"].map(|v| (v.to_string(), v.to_string()))
        }
        // At least 1 MiB (checked).
        "compile_cache_bytes" => {
            ["2000000", "3000000", "4000000"].map(|v| (v.to_string(), v.to_string()))
        }
        _ => ["7", "8", "9"].map(|v| (v.to_string(), v.to_string())),
    }
}

/// A TOML file giving every setting its `i`th sample.
fn file_with(i: usize) -> String {
    let (mut flat, mut table) = (String::new(), String::from("[workspaces]\n"));
    for s in serve_settings() {
        let v = &samples(&s.key)[i].1;
        match s.key.strip_prefix("workspaces.") {
            Some(k) => table.push_str(&format!("{k} = {v}\n")),
            None => flat.push_str(&format!("{} = {v}\n", s.key)),
        }
    }
    flat + &table
}

/// The merged layers as JSON, `workspaces` as a nested object.
fn layers_json(args: &ServeArgs) -> Value {
    let l = Layers::of(args).unwrap();
    let mut all = serde_json::Map::new();
    for group in [
        serde_json::to_value(&l.backend).unwrap(),
        serde_json::to_value(&l.jobs).unwrap(),
        serde_json::to_value(&l.limits).unwrap(),
        serde_json::to_value(&l.api).unwrap(),
    ] {
        all.extend(group.as_object().unwrap().clone());
    }
    all.insert(
        "workspaces".into(),
        serde_json::to_value(&l.workspaces).unwrap(),
    );
    Value::Object(all)
}

fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    key.split('.').fold(v, |v, k| &v[k])
}

/// What sample `i` of every setting parses to, from a file alone.
fn expected(dir: &tempfile::TempDir, i: usize) -> Value {
    let path = dir.path().join(format!("expected-{i}.toml"));
    std::fs::write(&path, file_with(i)).unwrap();
    layers_json(&Cli::parse_from(["kiln", "--config", path.to_str().unwrap()]).serve)
}

/// Sample 2 of every setting as flags, after `--config file`.
fn argv_with_flags(file: &std::path::Path) -> Vec<String> {
    let mut argv = vec![
        "kiln".to_string(),
        "--config".into(),
        file.display().to_string(),
    ];
    for s in serve_settings() {
        argv.push(format!("{}={}", s.flag.unwrap(), samples(&s.key)[2].0));
    }
    argv
}

/// Every setting, by the one declaration: absent everywhere it is `None`
/// (its default applies); the file gives sample 0; the env var beats it with
/// sample 1 (in a child process, see [`precedence_child`]); a flag beats both
/// with sample 2. And each of those resolves into a valid `Config`.
#[test]
fn every_setting_is_settable_by_flag_env_and_file_in_that_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let none = layers_json(&ServeArgs::default());
    let file = write_file(&dir, &file_with(0));
    let from_file =
        layers_json(&Cli::parse_from(["kiln", "--config", file.to_str().unwrap()]).serve);
    let want: Vec<Value> = (0..3).map(|i| expected(&dir, i)).collect();
    let settings = serve_settings();
    assert!(settings.len() >= 38, "{} settings", settings.len());
    for s in &settings {
        assert_eq!(at(&none, &s.key), &Value::Null, "{}", s.key);
        assert_ne!(
            at(&want[0], &s.key),
            &Value::Null,
            "{}: sample 0 did not parse",
            s.key
        );
        assert_ne!(
            at(&want[0], &s.key),
            at(&want[1], &s.key),
            "{}: samples alike",
            s.key
        );
        assert_ne!(
            at(&want[1], &s.key),
            at(&want[2], &s.key),
            "{}: samples alike",
            s.key
        );
        assert_eq!(
            at(&from_file, &s.key),
            at(&want[0], &s.key),
            "{} from the file",
            s.key
        );
    }
    let flags = Cli::try_parse_from(argv_with_flags(&file)).unwrap();
    let from_flags = layers_json(&flags.serve);
    for s in &settings {
        assert_eq!(
            at(&from_flags, &s.key),
            at(&want[2], &s.key),
            "{}: the flag beats the file",
            s.key
        );
    }
    Config::resolve(&flags.serve).unwrap();
    // The env layer, in a process of its own: env vars are global.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args([
        "config::tests::precedence::precedence_child",
        "--exact",
        "--ignored",
        "--nocapture",
    ]);
    child
        .env("KILN_TEST_CONFIG_FILE", &file)
        .env("KILN_TEST_EXPECTED", serde_json::to_string(&want).unwrap());
    for s in &settings {
        child.env(s.env.as_ref().unwrap(), &samples(&s.key)[1].0);
    }
    let out = child.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}

/// Run by the test above with every `KILN_…` variable set to sample 1.
#[test]
#[ignore = "run by every_setting_is_settable_by_flag_env_and_file_in_that_precedence"]
fn precedence_child() {
    let file = PathBuf::from(std::env::var("KILN_TEST_CONFIG_FILE").unwrap());
    let want: Vec<Value> =
        serde_json::from_str(&std::env::var("KILN_TEST_EXPECTED").unwrap()).unwrap();
    let from_env =
        layers_json(&Cli::parse_from(["kiln", "--config", file.to_str().unwrap()]).serve);
    let from_flags = layers_json(&Cli::parse_from(argv_with_flags(&file)).serve);
    for s in serve_settings() {
        assert_eq!(
            at(&from_env, &s.key),
            at(&want[1], &s.key),
            "{}: the env var beats the file",
            s.key
        );
        assert_eq!(
            at(&from_flags, &s.key),
            at(&want[2], &s.key),
            "{}: the flag beats the env var",
            s.key
        );
    }
}
