"""The official Judge0 Python SDK (PyPI `judge0`), unchanged, against Kiln.

Usage: judge0_client.py BASE_URL [API_KEY]

Runs single submissions (sync and async), test cases, a batch of every
language the SDK names that this Kiln has installed, and the verdicts that
map onto Judge0's statuses; asserts each result. Exits non-zero on the
first failure. Scripted by scripts/client-judge0.sh.
"""

import sys

import judge0
from judge0 import Status, Submission

BASE = sys.argv[1]
KEY = sys.argv[2] if len(sys.argv) > 2 else None

# One program per language the SDK names: reads one word, prints "hello WORD".
PROGRAMS = {
    judge0.PYTHON: 'print("hello " + input())\n',
    judge0.JAVASCRIPT: "const s = require('fs').readFileSync(0, 'utf8').trim();\nconsole.log('hello ' + s);\n",
    judge0.C: '#include <stdio.h>\nint main(void) { char b[64]; if (scanf("%63s", b) != 1) return 1; printf("hello %s\\n", b); return 0; }\n',
    judge0.CPP: '#include <iostream>\n#include <string>\nint main() { std::string s; std::cin >> s; std::cout << "hello " << s << "\\n"; }\n',
    judge0.JAVA: 'import java.util.*;\npublic class Main { public static void main(String[] a) { System.out.println("hello " + new Scanner(System.in).next()); } }\n',
    judge0.RUST: 'use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); println!("hello {}", s.trim()); }\n',
    judge0.GO: 'package main\nimport "fmt"\nfunc main() { var s string; fmt.Scan(&s); fmt.Println("hello " + s) }\n',
    judge0.BASH: 'read s; echo "hello $s"\n',
    judge0.RUBY: 'puts "hello " + gets.strip\n',
    judge0.PHP: '<?php $s = trim(fgets(STDIN)); echo "hello $s\\n";\n',
    judge0.PERL: 'my $s = <STDIN>; chomp $s; print "hello $s\\n";\n',
    judge0.LUA: 'local s = io.read("l"); print("hello " .. s)\n',
}

# Not valid base64 (the SDK decodes values that are, before sending).
WORD = "kiln-sdk"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


headers = {"X-Auth-Token": KEY} if KEY else None
client = judge0.Client(BASE, headers)
about = client.get_about()
check(about["version"] == "1.13.1", f"/about version {about['version']}")
installed = [lang for lang in PROGRAMS if client.is_language_supported(lang)]
check(judge0.PYTHON in installed, f"languages installed here: {[lang.name for lang in installed]}")

# A single run, synchronous.
s = judge0.run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=judge0.PYTHON, stdin=WORD + "\n")
check(s.status == Status.ACCEPTED, f"python run: {s.status}")
check(s.stdout == f"hello {WORD}\n", f"python stdout {s.stdout!r}")
check(s.time is not None and float(s.time) >= 0, f"time {s.time!r}")
check(s.token is not None, "token")

# Expected output: accepted and wrong answer.
s = judge0.run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=judge0.PYTHON, stdin=WORD + "\n", expected_output="hello nobody\n")
check(s.status == Status.WRONG_ANSWER, f"wrong answer: {s.status}")

# Asynchronous: create, then wait (polls GET /submissions/{token}).
s = judge0.async_run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=judge0.PYTHON, stdin="later-1\n")
s = judge0.wait(client=client, submissions=s)
check(s.status == Status.ACCEPTED and s.stdout == "hello later-1\n", f"async run: {s.status} {s.stdout!r}")

# Test cases: one submission each, a batch (POST/GET /submissions/batch).
cases = [("a-1\n", "hello a-1\n"), ("b-2\n", "hello b-2\n"), ("c-3\n", "hello not-c\n")]
results = judge0.run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=judge0.PYTHON, test_cases=cases)
check([r.status for r in results] == [Status.ACCEPTED, Status.ACCEPTED, Status.WRONG_ANSWER], f"test cases: {[r.status for r in results]}")
check(results[1].stdout == "hello b-2\n", f"test case stdout {results[1].stdout!r}")

# Every language the SDK names that Kiln has, in one batch.
subs = [Submission(source_code=PROGRAMS[lang], language=lang, stdin=f"{lang.name.lower()}-ok\n") for lang in installed]
results = judge0.run(client=client, submissions=subs)
for lang, r in zip(installed, results):
    check(r.status == Status.ACCEPTED and r.stdout == f"hello {lang.name.lower()}-ok\n", f"{lang.name}: {r.status} {r.stdout!r} {r.compile_output!r} {r.stderr!r}")

# Verdicts as Judge0's statuses.
s = judge0.run(client=client, source_code="import sys\nsys.exit(3)\n", language=judge0.PYTHON)
check(s.status == Status.RUNTIME_ERROR_NZEC and s.exit_code == 3, f"non-zero exit: {s.status} exit_code={s.exit_code}")
s = judge0.run(client=client, source_code="while True:\n    pass\n", language=judge0.PYTHON, cpu_time_limit=1, wall_time_limit=5)
check(s.status == Status.TIME_LIMIT_EXCEEDED, f"time limit: {s.status}")
s = judge0.run(client=client, source_code="import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", language=judge0.PYTHON)
check(s.status == Status.RUNTIME_ERROR_SIGSEGV and s.exit_signal == 11, f"SIGSEGV: {s.status} signal={s.exit_signal}")
s = judge0.run(client=client, source_code="import sys\nsys.stdout.buffer.write(b'a\\xffb')\n", language=judge0.PYTHON)
check(s.status == Status.ACCEPTED and s.stdout == "a\\xffb", f"bytes that are not UTF-8: {s.stdout!r}")
s = judge0.run(client=client, source_code="x = bytearray(400 * 1024 * 1024)\nprint(len(x))\n", language=judge0.PYTHON, memory_limit=65536)
check(s.status == Status.RUNTIME_ERROR_OTHER and s.message, f"memory limit (Judge0 has no MLE status): {s.status} {s.message!r}")
s = judge0.run(client=client, source_code="import sys\nsys.stdout.write('x' * (1 << 20))\n", language=judge0.PYTHON, max_file_size=64)
check(s.status == Status.RUNTIME_ERROR_SIGXFSZ, f"output limit (max_file_size): {s.status} {s.message!r}")
if judge0.C in installed:
    s = judge0.run(client=client, source_code="int main( {", language=judge0.C)
    check(s.status == Status.COMPILATION_ERROR and s.compile_output, f"compile error: {s.status}")

# additional_files: the SDK zips a Filesystem; its files sit beside the source.
fs = judge0.Filesystem(content=[judge0.File(name="data.txt", content="from the sdk zip\n"), judge0.File(name="helper.py", content="WORD = 'helped'\n")])
s = judge0.run(client=client, source_code="import helper\nprint(open('data.txt').read().strip(), helper.WORD)\n", language=judge0.PYTHON, additional_files=fs)
check(s.status == Status.ACCEPTED and s.stdout == "from the sdk zip helped\n", f"additional_files: {s.status} {s.stdout!r} {s.stderr!r}")

# number_of_runs: compiled once, run three times, times averaged.
s = judge0.run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=judge0.PYTHON, stdin="thrice\n", number_of_runs=3)
check(s.status == Status.ACCEPTED and s.stdout == "hello thrice\n" and s.number_of_runs == 3, f"number_of_runs: {s.status} {s.number_of_runs}")

# A hosted ("1.14.0") id given as a number.
s = judge0.run(client=client, source_code=PROGRAMS[judge0.PYTHON], language=113, stdin="hosted-id\n")
check(s.status == Status.ACCEPTED and s.stdout == "hello hosted-id\n", f"id 113: {s.status}")

print(f"PASS: judge0 SDK {judge0.__version__} against {BASE} ({len(installed)} languages)")
