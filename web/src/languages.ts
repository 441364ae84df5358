// The twelve languages of crates/lang, as the editor knows them: a
// CodeMirror mode, a starter program, and the file extensions that pick the
// mode in the workspace editor.

import type { StreamParser } from "@codemirror/language";
import type { Extension } from "@codemirror/state";

interface Mode {
  /** Loaded on first use: each mode is its own chunk. */
  mode: () => Promise<Extension>;
  extensions: string[];
  hello: string;
}

async function legacy(parser: Promise<StreamParser<unknown>>): Promise<Extension> {
  const [{ StreamLanguage }, p] = await Promise.all([import("@codemirror/language"), parser]);
  return StreamLanguage.define(p);
}

const MODES: Record<string, Mode> = {
  python: {
    mode: () => import("@codemirror/lang-python").then((m) => m.python()),
    extensions: ["py"],
    hello: 'print("Hello, Kiln!")\n',
  },
  javascript: {
    mode: () => import("@codemirror/lang-javascript").then((m) => m.javascript()),
    extensions: ["js", "mjs", "cjs"],
    hello: 'console.log("Hello, Kiln!");\n',
  },
  c: {
    mode: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
    extensions: ["c", "h"],
    hello: '#include <stdio.h>\n\nint main(void) {\n    printf("Hello, Kiln!\\n");\n    return 0;\n}\n',
  },
  cpp: {
    mode: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
    extensions: ["cpp", "cc", "cxx", "hpp", "hh"],
    hello: '#include <iostream>\n\nint main() {\n    std::cout << "Hello, Kiln!" << std::endl;\n}\n',
  },
  java: {
    mode: () => import("@codemirror/lang-java").then((m) => m.java()),
    extensions: ["java"],
    hello: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("Hello, Kiln!");\n    }\n}\n',
  },
  rust: {
    mode: () => import("@codemirror/lang-rust").then((m) => m.rust()),
    extensions: ["rs"],
    hello: 'fn main() {\n    println!("Hello, Kiln!");\n}\n',
  },
  go: {
    mode: () => import("@codemirror/lang-go").then((m) => m.go()),
    extensions: ["go"],
    hello: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, Kiln!")\n}\n',
  },
  bash: {
    mode: () => legacy(import("@codemirror/legacy-modes/mode/shell").then((m) => m.shell)),
    extensions: ["sh", "bash"],
    hello: 'echo "Hello, Kiln!"\n',
  },
  ruby: {
    mode: () => legacy(import("@codemirror/legacy-modes/mode/ruby").then((m) => m.ruby)),
    extensions: ["rb"],
    hello: 'puts "Hello, Kiln!"\n',
  },
  php: {
    mode: () => import("@codemirror/lang-php").then((m) => m.php()),
    extensions: ["php"],
    hello: '<?php\necho "Hello, Kiln!\\n";\n',
  },
  perl: {
    mode: () => legacy(import("@codemirror/legacy-modes/mode/perl").then((m) => m.perl)),
    extensions: ["pl", "pm"],
    hello: 'use strict;\nuse warnings;\nprint "Hello, Kiln!\\n";\n',
  },
  lua: {
    mode: () => legacy(import("@codemirror/legacy-modes/mode/lua").then((m) => m.lua)),
    extensions: ["lua"],
    hello: 'print("Hello, Kiln!")\n',
  },
};

/** The editor mode of a language id; plain text for one the console does not know. */
export async function modeFor(language: string): Promise<Extension> {
  return (await MODES[language]?.mode()) ?? [];
}

/** A starter program for a language. */
export function helloFor(language: string): string {
  return MODES[language]?.hello ?? "";
}

/** The language of a file name, from its extension (for the workspace editor). */
export function languageOfFile(name: string): string | null {
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
  for (const [id, m] of Object.entries(MODES)) {
    if (m.extensions.includes(ext)) return id;
  }
  return null;
}

export const KNOWN_LANGUAGES = Object.keys(MODES);
