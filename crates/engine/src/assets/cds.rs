//! The class-data-sharing recipe for `javac`: an archive of the classes the
//! compiler itself loads (a dynamic CDS archive dumped at the exit of a
//! compile of [`WARM`], a program of Kiln's), mapped by every later `javac`
//! instead of loading and verifying those classes again. It holds the
//! JDK's own classes only: what a submission compiles is never in it, and
//! the archive is the same for every submission.

use kiln_lang::{ExpandContext, Language};

use super::{digest, Recipe, Step};

const ARCHIVE: &str = "javac.jsa";

/// The program compiled while the archive is dumped: generics, lambdas,
/// streams, records, switch expressions, text blocks and inner classes, so
/// that the compiler classes most submissions need are loaded.
const WARM: &str = r#"import java.util.*;
import java.util.function.*;
import java.util.stream.*;
import java.io.*;

public class Warm {
    record Pair<A, B>(A a, B b) {}
    interface Shape { double area(); }
    static final class Square implements Shape {
        private final double s;
        Square(double s) { this.s = s; }
        public double area() { return s * s; }
    }
    enum Op { ADD, MUL }
    static <T extends Comparable<T>> T max(List<T> xs) {
        return xs.stream().max(Comparator.naturalOrder()).orElseThrow();
    }
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        Map<String, List<Integer>> m = new TreeMap<>();
        for (int i = 0; i < 10; i++) m.computeIfAbsent("k" + i % 3, k -> new ArrayList<>()).add(i);
        Function<Integer, Integer> f = x -> x * 2;
        int total = m.values().stream().flatMap(List::stream).mapToInt(f::apply).sum();
        Op op = total > 10 ? Op.ADD : Op.MUL;
        String s = switch (op) { case ADD -> "add"; case MUL -> "mul"; };
        String text = """
            %s %d
            """.formatted(s, total);
        Pair<String, Double> p = new Pair<>(text, new Square(2).area());
        StringBuilder sb = new StringBuilder();
        try { sb.append(p.a().strip()).append(max(Arrays.asList(3, 1, 2))); }
        catch (RuntimeException e) { throw new IllegalStateException(e); }
        System.out.println(sb + " " + in.getClass().getSimpleName());
    }
}
"#;

/// The recipe for `lang` (a JDK's `javac`).
pub fn recipe(lang: &Language, toolchain: &str) -> Option<Recipe> {
    let template = lang.compile.as_ref()?;
    let key = digest(&["cds", &lang.id, toolchain, &template.join("\u{0}")]);
    let files = ["Warm.java".to_string()];
    let ctx = ExpandContext {
        files: &files,
        memory_mb: 512,
    };
    let argv = |option: String| {
        lang.compile_argv_with(&ctx, &[option])
            .map(|a| lang.host_argv(&a))
    };
    Some(Recipe {
        kind: "cds",
        key,
        files: vec![("Warm.java", WARM.into())],
        steps: vec![
            Step {
                argv: argv(format!("-J-XX:ArchiveClassesAtExit={ARCHIVE}"))?,
                quiet: false,
                output: None,
            },
            // -Xshare:on: the JVM refuses to start when it cannot map it.
            Step {
                argv: {
                    let mut a = argv(format!("-J-XX:SharedArchiveFile={ARCHIVE}"))?;
                    a.insert(1, "-J-Xshare:on".into());
                    a
                },
                quiet: true,
                output: None,
            },
        ],
        keep: &[ARCHIVE],
        uses: vec![format!("-J-XX:SharedArchiveFile={{dir}}/{ARCHIVE}")],
    })
}
