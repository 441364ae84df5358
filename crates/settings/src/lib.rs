//! kiln-settings: one declaration per setting.
//!
//! [`settings!`] takes a group of settings, each written once as
//! `name: Type = default` with its doc comment, and makes from it:
//!
//! - the *layer* struct (every field `Option<Type>`): a `clap::Args` group with
//!   the flag `--name` (`--prefix-name` in a prefixed group) read also from the
//!   env var `KILN_NAME` (`KILN_PREFIX_NAME`), its help ending in
//!   `[default: …]`; and a `serde::Deserialize` struct with the TOML key `name`
//!   (a group with a prefix is the table `[prefix]`). The flags (with their env
//!   vars) and the file parse into the same type, and `or` (see [Layers](#layers))
//!   merges two layers, the first winning, without naming any field;
//! - the *resolved* struct: the same fields with the defaults applied
//!   (`resolve`), `Default` for it from the same defaults;
//! - `settings()`: each setting's key, flag, env var, default and help, for
//!   docs and tests.
//!
//! A setting written without `= default` has no constant default: it stays an
//! `Option` in the resolved struct, and `=> "text"` says in `--help` what
//! happens when it is not given (the code that derives it says how). A
//! setting may also say `=> expr` after its default, to show the default in
//! another form. Settings of the `file_only { … }` block have no flag (a list
//! of tables, say).
//!
//! # Layers
//!
//! `args.or(file).resolve()`: a flag or env var beats the file, the file beats
//! the default. (clap itself puts a flag over its env var.)
//!
//! # Why a macro
//!
//! clap's `default_value` cannot be used: it would make every setting
//! "given", and the file could never override it. So the flag is an `Option`,
//! and the default is applied after the merge, from the same line that puts
//! it in the help. Names (`--prefix-name`, `KILN_PREFIX_NAME`, the key) are
//! computed from the field's name, never written by hand.

use serde::Serialize;

pub use clap;
pub use serde;

/// One setting as it is spelled in each place: for docs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The TOML key: `max_tests`, or `workspaces.max_per_owner` in a table.
    pub key: String,
    /// `--max-tests`; `None` for a setting only the file can give.
    pub flag: Option<String>,
    /// `KILN_MAX_TESTS`; `None` when `flag` is.
    pub env: Option<String>,
    /// The default as `--help` shows it; `None` when there is none to show.
    pub default: Option<String>,
    /// The doc comment, on one line.
    pub help: String,
}

/// `--name` of a setting: the prefix and the field name, `_` as `-`.
pub fn flag_name(prefix: &str, name: &str) -> String {
    join(prefix, name, "-").replace('_', "-")
}

/// The placeholder of a flag's value: the field name in upper case.
pub fn value_name(name: &str) -> String {
    name.to_uppercase()
}

/// `KILN_NAME` of a setting: the prefix and the field name in upper case.
pub fn env_name(prefix: &str, name: &str) -> String {
    format!("KILN_{}", join(prefix, name, "_").to_uppercase())
}

/// The TOML key of a setting (`prefix.name` in the table `[prefix]`).
pub fn key(prefix: &str, name: &str) -> String {
    join(prefix, name, ".")
}

fn join(prefix: &str, name: &str, sep: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}{sep}{name}")
    }
}

/// The help of a flag: its doc comment's lines on one line, then
/// `[default: …]` unless `default` is `None` or empty.
pub fn help(doc: &[&str], default: Option<String>) -> String {
    let text: Vec<&str> = doc
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let text = text.join(" ");
    match default {
        Some(d) if !d.is_empty() => format!("{text} [default: {d}]"),
        _ => text,
    }
}

/// A default as `--help` shows it: strings bare, anything else as JSON
/// (`0.0.0.0:3000`, `kiln-data`, `1000`, `{"cpu_time_ms":5000,…}`).
pub fn show<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        // Written directly, so that fields keep their declared order.
        _ => serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>")),
    }
}

/// Declares a group of settings; see the [crate] documentation.
///
/// ```
/// kiln_settings::settings! {
///     /// Settings of a demo.
///     pub struct DemoArgs => Demo, prefix "demo" {
///         /// Most tests in one submission.
///         max_tests: usize = 64,
///         /// A URL; none by default.
///         queue: String => "the embedded queue",
///     }
/// }
/// let d = DemoArgs { max_tests: Some(3), ..Default::default() }.or(DemoArgs::default()).resolve();
/// assert_eq!((d.max_tests, d.queue), (3, None));
/// assert_eq!(Demo::default().max_tests, 64);
/// assert_eq!(DemoArgs::settings()[0].flag.as_deref(), Some("--demo-max-tests"));
/// ```
#[macro_export]
macro_rules! settings {
    (
        $(#[doc = $sdoc:literal])*
        $(#[serde($($sattr:tt)*)])*
        $vis:vis struct $layer:ident => $resolved:ident, prefix $prefix:literal {
            $(
                $(#[doc = $doc:literal])*
                $(#[arg($($arg:tt)*)])*
                $name:ident : $ty:ty $(= $default:expr)? $(=> $shown:expr)?
            ),* $(,)?
        }
        $(file_only {
            $(
                $(#[doc = $fdoc:literal])*
                $fname:ident : $fty:ty = $fdefault:expr
            ),* $(,)?
        })?
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, Default, $crate::clap::Args, $crate::serde::Deserialize, $crate::serde::Serialize)]
        #[serde(default)]
        $(#[serde($($sattr)*)])*
        $vis struct $layer {
            $(
                $(#[doc = $doc])*
                $(#[arg($($arg)*)])*
                #[arg(
                    id = concat!($prefix, stringify!($name)),
                    value_name = $crate::value_name(stringify!($name)),
                    long = $crate::flag_name($layer::PREFIX, stringify!($name)),
                    env = $crate::env_name($layer::PREFIX, stringify!($name)),
                    help = $crate::help(&[$($doc),*], $crate::__shown!($($shown)? ; $($default)?)),
                )]
                pub $name: Option<$ty>,
            )*
            $($(
                $(#[doc = $fdoc])*
                #[arg(skip)]
                pub $fname: Option<$fty>,
            )*)?
        }

        $(#[doc = $sdoc])*
        ///
        /// (Resolved: the defaults applied.)
        #[derive(Debug, Clone, $crate::serde::Serialize)]
        $vis struct $resolved {
            $(
                $(#[doc = $doc])*
                pub $name: $crate::__resolved_ty!($ty $(, $default)?),
            )*
            $($(
                $(#[doc = $fdoc])*
                pub $fname: $fty,
            )*)?
        }

        impl $layer {
            /// The prefix of this group's flags, env vars and TOML table.
            pub const PREFIX: &'static str = $prefix;

            /// Each setting of `self`, or else of `lower` (flags over the file).
            pub fn or(self, lower: Self) -> Self {
                Self {
                    $($name: self.$name.or(lower.$name),)*
                    $($($fname: self.$fname.or(lower.$fname),)*)?
                }
            }

            /// The settings given, and the defaults for the others.
            pub fn resolve(&self) -> $resolved {
                $resolved {
                    $($name: $crate::__resolve!(self.$name $(, $default)?),)*
                    $($($fname: self.$fname.clone().unwrap_or_else(|| $fdefault),)*)?
                }
            }

            /// Every setting of this group, as each place spells it.
            pub fn settings() -> Vec<$crate::Setting> {
                vec![
                    $($crate::Setting {
                        key: $crate::key(Self::PREFIX, stringify!($name)),
                        flag: Some(format!("--{}", $crate::flag_name(Self::PREFIX, stringify!($name)))),
                        env: Some($crate::env_name(Self::PREFIX, stringify!($name))),
                        default: $crate::__shown!($($shown)? ; $($default)?),
                        help: $crate::help(&[$($doc),*], None),
                    },)*
                    $($($crate::Setting {
                        key: $crate::key(Self::PREFIX, stringify!($fname)),
                        flag: None,
                        env: None,
                        default: None,
                        help: $crate::help(&[$($fdoc),*], None),
                    },)*)?
                ]
            }
        }

        impl Default for $resolved {
            fn default() -> Self {
                $layer::default().resolve()
            }
        }
    };
    // Without a prefix: the prefix "".
    (
        $(#[doc = $sdoc:literal])*
        $(#[serde($($sattr:tt)*)])*
        $vis:vis struct $layer:ident => $resolved:ident { $($body:tt)* }
        $($rest:tt)*
    ) => {
        $crate::settings! {
            $(#[doc = $sdoc])*
            $(#[serde($($sattr)*)])*
            $vis struct $layer => $resolved, prefix "" { $($body)* }
            $($rest)*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __resolved_ty {
    ($t:ty) => { Option<$t> };
    ($t:ty, $d:expr) => { $t };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __resolve {
    ($v:expr) => {
        $v.clone()
    };
    ($v:expr, $d:expr) => {
        $v.clone().unwrap_or_else(|| $d)
    };
}

/// The default text of a setting: the `=> shown` text, else the default.
#[doc(hidden)]
#[macro_export]
macro_rules! __shown {
    (; $d:expr) => {
        Some($crate::show(&$d))
    };
    (;) => {
        None::<String>
    };
    ($s:expr ; $($d:expr)?) => {
        Some(String::from($s))
    };
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    crate::settings! {
        /// A test group.
        #[serde(deny_unknown_fields)]
        pub struct TArgs => T, prefix "ws" {
            /// Most of them.
            max_per_owner: usize = 1100,
            /// Where.
            data_dir: PathBuf => "<data-dir>/ws",
            /// Shown otherwise.
            grace_secs: u64 = 300 => "5 min",
            /// A switch.
            #[arg(num_args = 0..=1, default_missing_value = "true")]
            enabled: bool = true,
        }
        file_only {
            /// Only in the file.
            names: Vec<String> = vec!["a".to_string()],
        }
    }

    crate::settings! {
        /// A group without a prefix, with a field of the same name as TArgs'.
        pub struct UArgs => U {
            /// Where else.
            data_dir: PathBuf = PathBuf::from("d"),
        }
    }

    /// The test command.
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        t: TArgs,
        #[command(flatten)]
        u: UArgs,
    }

    #[test]
    fn names_defaults_and_help_come_from_the_declaration() {
        let s = TArgs::settings();
        let keys: Vec<&str> = s.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ws.max_per_owner",
                "ws.data_dir",
                "ws.grace_secs",
                "ws.enabled",
                "ws.names"
            ]
        );
        assert_eq!(s[0].flag.as_deref(), Some("--ws-max-per-owner"));
        assert_eq!(s[0].env.as_deref(), Some("KILN_WS_MAX_PER_OWNER"));
        assert_eq!(s[0].default.as_deref(), Some("1100"));
        assert_eq!(s[1].default.as_deref(), Some("<data-dir>/ws"));
        assert_eq!(s[2].default.as_deref(), Some("5 min"));
        assert_eq!((s[4].flag.as_ref(), s[4].default.as_ref()), (None, None));
        let help = <Cli as clap::CommandFactory>::command()
            .render_help()
            .to_string();
        assert!(
            help.contains("--ws-max-per-owner <MAX_PER_OWNER>"),
            "{help}"
        );
        assert!(help.contains("Most of them. [default: 1100]"), "{help}");
        assert!(help.contains("[env: KILN_WS_MAX_PER_OWNER=]"), "{help}");
        assert!(
            !help.contains("names"),
            "file-only settings have no flag: {help}"
        );
        let t = T::default();
        assert_eq!(
            (
                t.max_per_owner,
                t.data_dir,
                t.grace_secs,
                t.enabled,
                t.names
            ),
            (1100, None, 300, true, vec!["a".to_string()])
        );
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_the_defaults() {
        let file: TArgs =
            toml::from_str("max_per_owner = 3\ngrace_secs = 4\nnames = [\"x\"]\n").unwrap();
        let cli = Cli::parse_from(["t", "--ws-max-per-owner", "7", "--ws-enabled"]);
        let t = cli.t.or(file).resolve();
        assert_eq!(
            (t.max_per_owner, t.grace_secs, t.enabled, t.names),
            (7, 4, true, vec!["x".to_string()])
        );
        let cli = Cli::parse_from(["t", "--ws-enabled", "false"]);
        assert!(!cli.t.resolve().enabled);
        // The same field name in two groups: two flags, each to its own group.
        let cli = Cli::parse_from(["t", "--ws-data-dir", "/w", "--data-dir", "/u"]);
        assert_eq!(cli.t.data_dir, Some(PathBuf::from("/w")));
        assert_eq!(
            cli.u.or(UArgs::default()).resolve().data_dir,
            PathBuf::from("/u")
        );
        assert_eq!(UArgs::settings()[0].flag.as_deref(), Some("--data-dir"));
        let err = toml::from_str::<TArgs>("max_per_ownr = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_per_ownr"), "{err}");
    }
}
