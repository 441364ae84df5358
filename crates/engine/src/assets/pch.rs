//! The precompiled-header recipe for C++: a header made of exactly the
//! standard headers every compile unit includes first, in their order,
//! precompiled with the language's own flags and used with `-include`.
//!
//! Why the program means the same with it: the header holds the very
//! `#include` lines the source starts with (only blank lines and `//`
//! comments may sit between them), so `-include` runs them first as the
//! source would, and the source's own copies are then no-ops (every header
//! on the list has an include guard). Anything else before or between them
//! — a `#define`, a `#pragma`, a block comment, a line continued with `\`,
//! a header not on the list — ends the prefix there. Only diagnostics
//! inside the standard headers name the header's path instead of the
//! source's line. A submission with its own compiler options gets none (the
//! header is built with the language's flags alone, so nothing a submission
//! sends reaches the compiler that builds it).

use kiln_lang::{ExpandContext, Language};

use super::{digest, Recipe, Step};
use crate::types::SourceFile;

/// The header's name; its precompiled form is this with `.gch`.
pub const HEADER: &str = "kiln-pch.h";
const GCH: &str = "kiln-pch.h.gch";

/// The C++20 standard library's headers (C headers in their `<cxxx>` and
/// `<xxx.h>` forms) and GCC's `<bits/stdc++.h>`.
const STANDARD: &[&str] = &[
    "algorithm",
    "any",
    "array",
    "atomic",
    "barrier",
    "bit",
    "bitset",
    "cassert",
    "cctype",
    "cerrno",
    "cfenv",
    "cfloat",
    "charconv",
    "chrono",
    "cinttypes",
    "climits",
    "clocale",
    "cmath",
    "codecvt",
    "compare",
    "complex",
    "concepts",
    "condition_variable",
    "coroutine",
    "csetjmp",
    "csignal",
    "cstdarg",
    "cstddef",
    "cstdint",
    "cstdio",
    "cstdlib",
    "cstring",
    "ctime",
    "cuchar",
    "cwchar",
    "cwctype",
    "deque",
    "exception",
    "execution",
    "filesystem",
    "format",
    "forward_list",
    "fstream",
    "functional",
    "future",
    "initializer_list",
    "iomanip",
    "ios",
    "iosfwd",
    "iostream",
    "istream",
    "iterator",
    "latch",
    "limits",
    "list",
    "locale",
    "map",
    "memory",
    "memory_resource",
    "mutex",
    "new",
    "numbers",
    "numeric",
    "optional",
    "ostream",
    "queue",
    "random",
    "ranges",
    "ratio",
    "regex",
    "scoped_allocator",
    "semaphore",
    "set",
    "shared_mutex",
    "source_location",
    "span",
    "sstream",
    "stack",
    "stdexcept",
    "stop_token",
    "streambuf",
    "string",
    "string_view",
    "syncstream",
    "system_error",
    "thread",
    "tuple",
    "type_traits",
    "typeindex",
    "typeinfo",
    "unordered_map",
    "unordered_set",
    "utility",
    "valarray",
    "variant",
    "vector",
    "version",
    "assert.h",
    "ctype.h",
    "errno.h",
    "float.h",
    "inttypes.h",
    "limits.h",
    "math.h",
    "stdint.h",
    "stdio.h",
    "stdlib.h",
    "string.h",
    "time.h",
    "bits/stdc++.h",
];

/// The standard headers `source` includes before anything else, in order;
/// empty when it starts otherwise.
pub fn leading_headers(source: &str) -> Vec<&str> {
    let mut headers = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        if t.ends_with('\\') || t.starts_with('\u{feff}') {
            break;
        }
        if t.is_empty() || t.starts_with("//") {
            continue;
        }
        match standard_include(t) {
            Some(h) => headers.push(h),
            None => break,
        }
    }
    headers
}

/// `name` of a line `#include <name>` (spaces allowed around `#` and
/// `include`, a `//` comment after it) naming a [`STANDARD`] header.
fn standard_include(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix('#')?
        .trim_start()
        .strip_prefix("include")?;
    let rest = rest.trim_start().strip_prefix('<')?;
    let (name, after) = rest.split_once('>')?;
    let after = after.trim();
    if !(after.is_empty() || after.starts_with("//")) {
        return None;
    }
    STANDARD.contains(&name).then_some(name)
}

/// The recipe for a compile of `units` (the compile units' files) without
/// compiler options; `None` when they do not all start with the same
/// standard headers.
pub fn recipe(lang: &Language, toolchain: &str, units: &[&SourceFile]) -> Option<Recipe> {
    let (first, rest) = units.split_first()?;
    let headers = leading_headers(&first.content);
    if headers.is_empty() || rest.iter().any(|u| leading_headers(&u.content) != headers) {
        return None;
    }
    let header: String = headers
        .iter()
        .map(|h| format!("#include <{h}>\n"))
        .collect();
    let template = lang.compile.as_ref()?;
    let key = digest(&["pch", &lang.id, toolchain, &template.join("\u{0}"), &header]);
    // The language's own command, fed the header (its output, `main`, is the
    // precompiled header) and then a unit that uses it.
    let argv = |files: &[&str], options: &[&str]| {
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        let ctx = ExpandContext {
            files: &files,
            memory_mb: 1024,
        };
        lang.compile_argv_with(&ctx, &options)
            .map(|a| lang.host_argv(&a))
    };
    let build = argv(&[HEADER], &["-x", "c++-header"])?;
    let check = argv(&["check.cpp"], &["-include", HEADER, "-Winvalid-pch", "-c"])?;
    Some(Recipe {
        kind: "pch",
        key,
        files: vec![(HEADER, header), ("check.cpp", "int kiln_check;\n".into())],
        steps: vec![
            Step {
                argv: build,
                quiet: false,
                output: Some(("main", GCH)),
            },
            Step {
                argv: check,
                quiet: true,
                output: None,
            },
        ],
        keep: &[HEADER, GCH],
        uses: vec![
            "-include".into(),
            format!("{{dir}}/{HEADER}"),
            "-Winvalid-pch".into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_standard_includes_before_anything_else() {
        let src = "// sum\n#include <iostream>\n\n#include<vector> // v\n  #  include <bits/stdc++.h>\nint x;\n#include <map>\n";
        assert_eq!(
            leading_headers(src),
            ["iostream", "vector", "bits/stdc++.h"]
        );
    }

    #[test]
    fn anything_that_could_change_the_headers_ends_the_prefix() {
        for src in [
            "#define _GLIBCXX_DEBUG\n#include <vector>\n",
            "#pragma GCC optimize(\"O3\")\n#include <vector>\n",
            "/* a */\n#include <vector>\n",
            "// continued \\\n#include <vector>\n",
            "#include \"vector\"\n",
            "#include <my/own.h>\n#include <vector>\n",
            "#include <vector> int x;\n",
            "\u{feff}#include <vector>\n",
            "#include <../../etc/passwd>\n",
        ] {
            assert!(leading_headers(src).is_empty(), "{src:?}");
        }
        assert_eq!(
            leading_headers("#include <vector>\n#define N 5\n#include <map>\n"),
            ["vector"]
        );
    }
}
