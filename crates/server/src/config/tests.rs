use std::time::Duration;

use clap::{CommandFactory, Parser};
use serde_json::Value;

use super::*;

mod precedence;

/// `kiln serve` as the CLI parses it.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn write_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("kiln.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn flags_beat_file_and_file_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "workers = 7\nqueue_capacity = 5\nmax_limits = { cpu_time_ms = 9000 }\napi_keys = [\"k1\"]\n[workspaces]\nmax_per_owner = 4\n",
    );
    let cli = Cli::parse_from([
        "kiln",
        "--config",
        path.to_str().unwrap(),
        "--workers",
        "3",
        "--listen",
        "127.0.0.1:0",
    ]);
    let c = Config::resolve(&cli.serve).unwrap();
    assert_eq!(c.workers, 3);
    assert_eq!(c.api.queue_capacity, 5);
    assert_eq!(c.max_limits.cpu_time_ms, 9000);
    assert_eq!(c.max_limits.memory_kb, MAX_LIMITS.memory_kb);
    assert_eq!(c.api.api_keys, vec!["k1".to_string()]);
    assert_eq!(c.api.max_wait(), Duration::from_secs(30));
    assert_eq!(c.workspaces.max_per_owner, 4);
    assert!(!c.jobs.allow_private_callbacks);
}

#[test]
fn env_beats_file_and_flags_beat_env() {
    // Keys no other test reads, so a shared process (cargo test) is safe too.
    std::env::set_var("KILN_MAX_STDIN_BYTES", "5");
    std::env::set_var("KILN_CALLBACK_RETRIES", "9");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "max_stdin_bytes = 7\ncallback_retries = 8\nretention_secs = 3\n",
    );
    let cli = Cli::parse_from([
        "kiln",
        "--config",
        path.to_str().unwrap(),
        "--callback-retries",
        "10",
        "--workers",
        "4",
    ]);
    let c = Config::resolve(&cli.serve).unwrap();
    assert_eq!((c.limits.max_stdin_bytes, c.jobs.callback_retries), (5, 10));
    assert_eq!(c.jobs.retention(), Some(Duration::from_secs(3)));
    assert_eq!(c.warm_boxes, 4, "one warm box per worker by default");
}

#[test]
fn unknown_file_keys_are_refused_by_name_and_bad_values_too() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("wokers = 7\n", "wokers"),
        (
            "workers = 2\n[workspaces]\nmax_per_ownr = 7\n",
            "max_per_ownr",
        ),
        ("[workspace]\nmax_per_owner = 7\n", "workspace"),
        ("metrics_listen = \"0.0.0.0:1\"\nconfig = \"x\"\n", "config"),
    ] {
        let args = ServeArgs {
            file: ConfigFileArg {
                config: Some(write_file(&dir, text)),
            },
            ..Default::default()
        };
        let err = Config::resolve(&args).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::UnknownKey { .. } | ConfigError::Parse { .. }
            ),
            "{text}: {err}"
        );
        assert!(err.to_string().contains(key), "{text}: {err}");
    }
    let args = ServeArgs {
        jobs: JobArgs {
            workers: Some(0),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(
        Config::resolve(&args),
        Err(ConfigError::Invalid { key: "workers", .. })
    ));
}

fn shared(queue: Option<&str>, store: Option<&str>) -> ServeArgs {
    ServeArgs {
        backend: BackendArgs {
            queue: queue.map(String::from),
            store: store.map(String::from),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn shared_queue_and_store_go_together_and_default_to_no_workers() {
    let c = Config::resolve(&shared(
        Some("redis://127.0.0.1:6379/0"),
        Some("postgres://kiln@127.0.0.1/kiln"),
    ))
    .unwrap();
    assert_eq!(c.workers, 0, "an API node runs no workers unless asked");
    assert_eq!(
        c.lease,
        Duration::from_secs(30),
        "workers renew leases, so the default is short whatever the limits"
    );
    for (queue, store, key) in [
        (Some("redis://h/0"), None, "store"),
        (None, Some("postgres://h/db"), "queue"),
        (Some("http://h"), Some("postgres://h/db"), "queue"),
        (Some("redis://h/0"), Some("mysql://h/db"), "store"),
    ] {
        let err = Config::resolve(&shared(queue, store)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { key: k, .. } if *k == key),
            "{queue:?} {store:?}: {err}"
        );
    }
}

#[test]
fn the_engine_and_the_server_share_their_defaults() {
    let c = Config::resolve(&ServeArgs::default()).unwrap();
    let engine = kiln_engine::EngineConfig::default();
    assert_eq!(
        c.validation_rules(),
        kiln_engine::validate::Rules::from(&engine)
    );
    assert_eq!(c.default_limits, engine.default_limits);
}

/// The compile cache lives in the data directory unless placed elsewhere,
/// can be turned off, and its budget must hold something.
#[test]
fn the_compile_cache_defaults_to_the_data_dir_and_can_be_turned_off() {
    let c = Config::resolve(&Cli::parse_from(["kiln", "--data-dir", "/srv/kiln"]).serve).unwrap();
    let cache = c.compile_cache.clone().unwrap();
    assert_eq!(cache.dir, PathBuf::from("/srv/kiln/compile-cache"));
    assert_eq!(cache.max_bytes, kiln_engine::config::COMPILE_CACHE_BYTES);
    assert_eq!(
        crate::executor::engine_config(&c).compile_cache,
        Some(cache)
    );
    let c = Config::resolve(
        &Cli::parse_from([
            "kiln",
            "--compile-cache-dir",
            "/shared/cc",
            "--compile-cache-bytes",
            "5000000",
        ])
        .serve,
    )
    .unwrap();
    let cache = c.compile_cache.unwrap();
    assert_eq!(
        (cache.dir, cache.max_bytes),
        (PathBuf::from("/shared/cc"), 5_000_000)
    );
    let off =
        Config::resolve(&Cli::parse_from(["kiln", "--compile-cache", "false"]).serve).unwrap();
    assert_eq!(off.compile_cache, None);
    let e = Config::resolve(&Cli::parse_from(["kiln", "--compile-cache-bytes", "1000"]).serve)
        .unwrap_err()
        .to_string();
    assert!(e.contains("compile_cache_bytes"), "{e}");
}

/// The settings of `kiln serve` (all but the worker's own).
fn serve_settings() -> Vec<kiln_settings::Setting> {
    let worker_only: Vec<String> = WorkerNodeArgs::settings()
        .into_iter()
        .map(|s| s.key)
        .collect();
    settings::all()
        .into_iter()
        .filter(|s| s.flag.is_some() && !worker_only.contains(&s.key))
        .collect()
}

#[test]
fn serve_help_shows_each_setting_with_its_env_var_and_default() {
    let help = Cli::command().render_long_help().to_string();
    for s in serve_settings() {
        let flag = s.flag.unwrap();
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}=")),
            "{flag}:\n{help}"
        );
        assert!(
            help.contains(&format!("[env: {}", s.env.unwrap())),
            "{flag}:\n{help}"
        );
    }
    for text in [
        "[default: 0.0.0.0:3000]",
        "[default: 262144]",
        "[default: 64]",
        "[default: 1100]",
        "[default: {\"cpu_time_ms\":20000,\"wall_time_ms\":40000,",
    ] {
        assert!(help.contains(text), "{text}:\n{help}");
    }
}

/// docs/api.md's settings table has a row for every flag, with its env var,
/// and with its default where that is one word (the others are said in words).
#[test]
fn docs_list_every_setting() {
    let docs = include_str!("../../../../docs/api.md");
    for s in settings::all() {
        let Some(flag) = s.flag else { continue };
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{flag}` |")))
            .unwrap_or_else(|| panic!("docs/api.md has no row for {flag}"));
        let cells: Vec<&str> = row.split('|').map(|c| c.trim().trim_matches('`')).collect();
        assert_eq!(cells[2], s.env.unwrap(), "{row}");
        let default = s.default.unwrap_or_default();
        if !default.contains(' ') && !default.starts_with('{') {
            assert_eq!(cells[3], default, "the default of {flag} in docs/api.md");
        }
    }
}

#[test]
fn cors_origins_must_be_origins() {
    for bad in [
        "console.example.com",
        "https://a.example/path",
        "ftp://a.example",
        "https://a.example/",
    ] {
        let mut a = ServeArgs::default();
        a.api.cors_origins = Some(vec![bad.into()]);
        let e = Config::resolve(&a).unwrap_err().to_string();
        assert!(e.contains("cors_origins"), "{bad}: {e}");
    }
    for good in ["*", "https://a.example", "http://127.0.0.1:5173"] {
        let mut a = ServeArgs::default();
        a.api.cors_origins = Some(vec![good.into()]);
        Config::resolve(&a).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}
