"""A scripted session of PyPI `piston-rspy` (unchanged) against `kiln serve`.

Usage: python piston_rspy.py BASE_URL LANG...

Asserts: fetch_runtimes() reads Kiln's runtimes; each LANG runs the shared
program (piston_programs.json) with stdin and args, named as a Piston user
names files, and prints the expected line; a file without a name (the
client sends "") works; a runtime error and a compile error read as Piston's.
"""

import asyncio
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
# This file's name is the module's: import the installed one, not this file.
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE]
import piston_rspy  # noqa: E402

CORPUS = json.loads((HERE / "piston_programs.json").read_text())
failures = 0


def check(what, ok, detail):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} piston-rspy: {what}")
    if not ok:
        failures += 1
        print(f"     {detail!r}")


def result(res):
    run = res.run
    return (res.status, res.language, res.version, run.stdout, run.stderr, run.code, run.signal)


async def main(url, langs):
    client = piston_rspy.Client.with_url(url.rstrip("/") + "/api/v2")
    runtimes = await client.fetch_runtimes()
    names = [r.language for r in runtimes]
    check("fetch_runtimes() reads the runtimes", len(runtimes) > 0 and all(r.version for r in runtimes), runtimes)
    for lang in langs:
        if lang not in names:
            check(f"{lang} is a runtime", False, names)
            continue
        prog = CORPUS["programs"][lang]
        ex = (
            piston_rspy.Executor()
            .set_language(lang)
            .set_version("*")
            .add_file(piston_rspy.File(name=prog["file"], content=prog["source"]))
            .set_stdin(CORPUS["stdin"])
            .add_args(CORPUS["args"])
            .set_run_timeout(10000)
        )
        res = await client.execute(ex)
        check(
            f"{lang}: prints {CORPUS['expected']!r}",
            res.is_ok() and res.language == lang and res.run.stdout == CORPUS["expected"] and res.run.code == 0,
            result(res),
        )
    if "python" in names:
        version = next(r.version for r in runtimes if r.language == "python")
        major = version.split(".")[0]
        ex = (
            piston_rspy.Executor()
            .set_language("py")
            .set_version(f"{major}.x")
            .add_file(piston_rspy.File(content="import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)"))
        )
        res = await client.execute(ex)
        check(
            "python (alias py, version N.x, unnamed file): exit 3 with stderr",
            res.is_ok() and res.language == "python" and res.version == version and res.run.code == 3 and res.run.stderr == "oops\n",
            result(res),
        )
    if "cpp" in names:
        ex = piston_rspy.Executor().set_language("c++").add_file(
            piston_rspy.File(name="main.cpp", content="int main() { return undefined_name; }")
        )
        res = await client.execute(ex)
        check(
            "c++: a compile error is the compile stage and the run stage",
            res.is_ok() and res.compile is not None and res.compile.code != 0 and "undefined_name" in res.run.stderr,
            result(res),
        )
    res = await client.execute(piston_rspy.Executor().set_language("cobol").add_file(piston_rspy.File(content="x")))
    check("an unknown runtime is not ok (400)", res.is_err() and res.status == 400, result(res))


asyncio.run(main(sys.argv[1], sys.argv[2:]))
if failures:
    print(f"piston-rspy: {failures} check(s) failed")
    sys.exit(1)
print("piston-rspy: all checks passed")
