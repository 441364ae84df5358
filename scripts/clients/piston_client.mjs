// A scripted session of npm `piston-client` (unchanged) against `kiln serve`.
// Usage: node piston_client.mjs BASE_URL CLIENT_DIR LANG...
//   CLIENT_DIR: the npm prefix piston-client is installed in (target/node-clients).
// Asserts: runtimes is a list; each LANG runs the shared program
// (piston_programs.json) with stdin and args and prints the expected line;
// the client's own defaults (no file name, args ["1","2","3"], JSON posted
// as text/plain) work; a runtime error and a compile error read as Piston's.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [server, clientDir, ...langs] = process.argv.slice(2);
const { piston } = await import(
  pathToFileURL(join(clientDir, "node_modules/piston-client/index.js")).href
);
const corpus = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), "piston_programs.json"), "utf8")
);

let failures = 0;
function check(what, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} piston-client: ${what}`);
  if (!ok) {
    failures++;
    console.log(`     ${JSON.stringify(detail)}`);
  }
}

const client = piston({ server });
const runtimes = await client.runtimes();
check("runtimes() is a list", Array.isArray(runtimes), runtimes);
const names = Array.isArray(runtimes) ? runtimes.map((r) => r.language) : [];

for (const lang of langs) {
  if (!names.includes(lang)) {
    check(`${lang} is a runtime`, false, names);
    continue;
  }
  const r = await client.execute(lang, corpus.programs[lang].source, {
    stdin: corpus.stdin,
    args: corpus.args,
    runTimeout: 10000,
  });
  check(
    `${lang}: prints ${JSON.stringify(corpus.expected)}`,
    r.language === lang && r.run && r.run.stdout === corpus.expected && r.run.code === 0,
    r
  );
}

if (names.includes("python")) {
  // The client's defaults: args ["1","2","3"], stdin "" (Piston adds "\n").
  const r = await client.execute("python", "import sys\nprint(len(sys.argv) - 1, repr(sys.stdin.read()))");
  check("python: default args and stdin", r.run && r.run.stdout === "3 '\\n'\n", r);
  const e = await client.execute("python", "import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)");
  check(
    "python: exit 3 is RE with stderr",
    e.run && e.run.code === 3 && e.run.stderr === "oops\n" && e.run.status === "RE",
    e
  );
}
if (names.includes("c")) {
  const r = await client.execute("c", "int main(void) { return undefined_name; }");
  check(
    "c: a compile error is the compile stage and the run stage",
    r.compile && r.compile.code !== 0 && r.run && r.run.stderr.includes("undefined_name"),
    r
  );
}
const bad = await client.execute("no-such-language", "x");
check("an unknown language gets Piston's {message}", typeof bad.message === "string", bad);

if (failures > 0) {
  console.log(`piston-client: ${failures} check(s) failed`);
  process.exit(1);
}
console.log("piston-client: all checks passed");
