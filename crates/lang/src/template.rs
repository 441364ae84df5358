//! Argv templates.
//!
//! Placeholders, replaced wherever they appear inside an argument:
//! - `{main}`: the entry file (the first source file) as a path in the working
//!   directory, e.g. `./main.py`;
//! - `{main_stem}`: its file name without extension (the Java class), e.g. `Main`;
//! - `{files}`: every source file as `./name` — an argument that is exactly
//!   `{files}` becomes one argument per file; embedded in a longer argument,
//!   the paths are joined with spaces;
//! - `{memory_mb}`: the memory limit in MiB;
//! - `{heap_mb}`: a heap for managed runtimes that leaves headroom under the
//!   limit: `memory_mb - 64`, at least 32 (see [`heap_mb`]);
//! - [`OPTIONS`] (a whole argument, compile templates only): where a
//!   submission's compiler options go, one argument each
//!   (`Language::compile_argv_with`); nothing otherwise.
//!
//! Unknown `{…}` sequences are left as they are.
//!
//! File names are data, never options: every file reaches a tool as `./name`,
//! so a name such as `-wrapper` or `@opts` can never be read as a compiler
//! option or an option file, whatever the validator lets through (it refuses
//! such names too: `kiln_engine::validate::file_name`).

use std::path::Path;

/// The argument of a compile template that stands for the compiler options.
pub const OPTIONS: &str = "{options}";

/// MiB a managed runtime (JVM) needs outside its heap.
pub const HEAP_HEADROOM_MB: u64 = 64;
/// Smallest heap ever given.
pub const MIN_HEAP_MB: u64 = 32;

/// What a template is expanded against.
#[derive(Debug, Clone, Copy)]
pub struct ExpandContext<'a> {
    /// Source file names as they lie in the working directory; the first is
    /// the entry point.
    pub files: &'a [String],
    /// The memory limit (the cgroup limit) in MiB.
    pub memory_mb: u64,
}

/// Heap size for a memory limit: the limit minus [`HEAP_HEADROOM_MB`], at least
/// [`MIN_HEAP_MB`].
pub fn heap_mb(memory_mb: u64) -> u64 {
    memory_mb.saturating_sub(HEAP_HEADROOM_MB).max(MIN_HEAP_MB)
}

/// Expands every argument of `template` against `ctx`.
pub fn expand(template: &[String], ctx: &ExpandContext) -> Vec<String> {
    let paths: Vec<String> = ctx.files.iter().map(|f| format!("./{f}")).collect();
    let main_name = ctx.files.first().map(String::as_str).unwrap_or("");
    let main = paths.first().cloned().unwrap_or_default();
    let stem = Path::new(main_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let vars = [
        ("{main}", main),
        ("{main_stem}", stem.to_string()),
        ("{files}", paths.join(" ")),
        ("{memory_mb}", ctx.memory_mb.to_string()),
        ("{heap_mb}", heap_mb(ctx.memory_mb).to_string()),
    ];
    let mut argv = Vec::with_capacity(template.len() + ctx.files.len());
    for arg in template {
        if arg == OPTIONS {
            continue;
        }
        if arg == "{files}" {
            argv.extend(paths.iter().cloned());
        } else {
            argv.push(substitute(arg, &vars));
        }
    }
    argv
}

/// Replaces each known placeholder in one pass, so that a file name that itself
/// contains `{…}` is never expanded again.
fn substitute(arg: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        match vars.iter().find(|(name, _)| tail.starts_with(name)) {
            Some((name, value)) => {
                out.push_str(value);
                rest = &tail[name.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn files(names: &[&str]) -> Vec<String> {
        t(names)
    }

    #[test]
    fn the_options_placeholder_expands_to_nothing_in_plain_expansion() {
        let f = files(&["main.c"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 64,
        };
        assert_eq!(
            expand(&t(&["cc", OPTIONS, "{files}"]), &ctx),
            t(&["cc", "./main.c"])
        );
    }

    #[test]
    fn expands_main_and_stem() {
        let f = files(&["Main.java", "Util.java"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 256,
        };
        assert_eq!(
            expand(&t(&["java", "-cp", ".", "{main_stem}", "{main}"]), &ctx),
            t(&["java", "-cp", ".", "Main", "./Main.java"])
        );
    }

    #[test]
    fn files_becomes_one_argument_per_file() {
        let f = files(&["main.c", "util.c", "more.c"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 128,
        };
        assert_eq!(
            expand(&t(&["gcc", "-o", "main", "{files}", "-lm"]), &ctx),
            t(&["gcc", "-o", "main", "./main.c", "./util.c", "./more.c", "-lm"])
        );
    }

    #[test]
    fn embedded_placeholders() {
        let f = files(&["a.js", "b.js"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 512,
        };
        assert_eq!(
            expand(
                &t(&[
                    "-Xmx{heap_mb}m",
                    "--limit={memory_mb}M",
                    "x{main_stem}y",
                    "[{files}]"
                ]),
                &ctx
            ),
            t(&["-Xmx448m", "--limit=512M", "xay", "[./a.js ./b.js]"])
        );
    }

    #[test]
    fn unknown_braces_and_file_names_with_braces_are_left_alone() {
        let f = files(&["{memory_mb}.py"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 64,
        };
        assert_eq!(
            expand(&t(&["{nope}", "{", "run {main}", "{main_stem"]), &ctx),
            t(&["{nope}", "{", "run ./{memory_mb}.py", "{main_stem"])
        );
    }

    #[test]
    fn no_files_expands_to_nothing() {
        let ctx = ExpandContext {
            files: &[],
            memory_mb: 64,
        };
        assert_eq!(expand(&t(&["x", "{files}", "{main}"]), &ctx), t(&["x", ""]));
    }

    #[test]
    fn names_that_look_like_options_stay_file_paths() {
        let f = files(&["-wrapper", "sh,-c,id;.c", "@opts"]);
        let ctx = ExpandContext {
            files: &f,
            memory_mb: 64,
        };
        let argv = expand(&t(&["gcc", "-o", "main", "{files}"]), &ctx);
        assert_eq!(
            argv,
            t(&[
                "gcc",
                "-o",
                "main",
                "./-wrapper",
                "./sh,-c,id;.c",
                "./@opts"
            ])
        );
        assert!(argv[3..].iter().all(|a| !a.starts_with(['-', '@'])));
    }

    #[test]
    fn heap_leaves_headroom_with_a_floor() {
        assert_eq!(heap_mb(256), 192);
        assert_eq!(heap_mb(64), MIN_HEAP_MB);
        assert_eq!(heap_mb(0), MIN_HEAP_MB);
    }
}
