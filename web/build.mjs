// Builds the console into crates/console/dist, which `kiln serve` embeds at
// compile time (crates/console/src/lib.rs). Deterministic: the same sources and
// lockfile give the same bytes (content-hashed names, no timestamps, no
// absolute paths), so CI can rebuild and `git diff --exit-code` the output.
//
//   node build.mjs            build
//   node build.mjs --check    build into a temporary folder and compare
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outRoot = join(here, "..", "crates", "console", "dist");
// Where the browser finds the assets (crates/console serves dist/assets there).
const PUBLIC = "/console/assets/";

function hashName(name, bytes) {
  const h = createHash("sha256").update(bytes).digest("hex").slice(0, 10);
  const dot = name.lastIndexOf(".");
  return `${name.slice(0, dot)}-${h}${name.slice(dot)}`;
}

async function buildInto(root) {
  rmSync(root, { recursive: true, force: true });
  const assets = join(root, "assets");
  mkdirSync(assets, { recursive: true });
  const result = await build({
    absWorkingDir: here,
    entryPoints: { main: "src/main.ts", style: "src/style.css" },
    bundle: true,
    splitting: true,
    format: "esm",
    minify: true,
    target: ["es2020", "chrome100", "firefox100", "safari15"],
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    outdir: assets,
    publicPath: PUBLIC,
    metafile: true,
    legalComments: "eof",
    charset: "utf8",
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(assets, join(here, p)));
  const js = outputs.find((o) => o.startsWith("main-") && o.endsWith(".js"));
  const css = outputs.find((o) => o.startsWith("style-") && o.endsWith(".css"));
  if (!js || !css) throw new Error(`esbuild gave no main/style output: ${outputs.join(", ")}`);
  const icon = readFileSync(join(here, "src", "favicon.svg"));
  const iconName = hashName("favicon.svg", icon);
  writeFileSync(join(assets, iconName), icon);
  const html = readFileSync(join(here, "index.html"), "utf8")
    .replaceAll("{{JS}}", PUBLIC + js)
    .replaceAll("{{CSS}}", PUBLIC + css)
    .replaceAll("{{ICON}}", PUBLIC + iconName);
  if (html.includes("{{")) throw new Error("index.html has a placeholder the build does not fill");
  writeFileSync(join(root, "index.html"), html);
}

function listFiles(root, base = root) {
  return readdirSync(root, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(root, e.name), base) : [relative(base, join(root, e.name))]))
    .sort();
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "kiln-console-"));
  try {
    await buildInto(tmp);
    const want = listFiles(tmp);
    const have = listFiles(outRoot);
    const differ = want.filter((f) => !have.includes(f) || !readFileSync(join(tmp, f)).equals(readFileSync(join(outRoot, f))));
    const extra = have.filter((f) => !want.includes(f));
    if (differ.length || extra.length) {
      console.error("crates/console/dist does not match web/: run scripts/build-console.sh and commit the result");
      for (const f of differ) console.error(`  differs or missing: ${f}`);
      for (const f of extra) console.error(`  not built from the sources: ${f}`);
      process.exit(1);
    }
    console.log(`crates/console/dist matches the sources (${want.length} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  await buildInto(outRoot);
  for (const f of listFiles(outRoot)) {
    console.log(`${String(readFileSync(join(outRoot, f)).length).padStart(9)}  ${f}`);
  }
}
