"""Locust driver for Kiln's submission API, for teams that already use Locust.

Tags follow the load-test plan (../../../shared/seeds/003_*.txt):
  burst        Python 40 %, JavaScript 25 %, C++ 20 %, Java 10 %, others 5 %
  mixed        Python 35 %, JavaScript 30 %, C++ 15 %, Java 15 %, others 5 %
  compilation  C++ 40 %, C 25 %, Java 20 %, Rust 10 %, Go 5 %;
               simple 30 %, medium 50 %, complex 20 %; unique sources

Programs come from Kiln's corpus (crates/loadtest/corpus), each with its stdin
and expected output, so a wrong verdict is a failure, not just a non-200.

    locust -f loadtest/locust/locustfile.py --host=http://localhost:3000 \
        --headless -u 50 -r 50 --run-time 1m -T burst

Environment: KILN_API_KEY (Bearer key), KILN_PACING (seconds per task per user,
default 3: 50 users ≈ 16.7 RPS as in the plan's burst; 0 = as fast as possible),
KILN_MODE (wait | poll, default wait).

Locust runs a closed model and rounds latencies; `kiln loadtest` is the
open-model, coordinated-omission-correct generator.
"""

import os
import random
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, constant_pacing, tag, task

CORPUS = Path(__file__).resolve().parents[2] / "crates" / "loadtest" / "corpus"
ENTRY = {
    "python": ["main.py", "matrix.py"],
    "javascript": ["main.js", "matrix.js"],
    "c": ["main.c", "matrix.h"],
    "cpp": ["main.cpp", "matrix.hpp"],
    "java": ["Main.java", "Matrix.java", "Ring.java", "LongRing.java"],
    "rust": ["main.rs", "matrix.rs"],
    "go": ["main.go"],
    "bash": ["main.sh"],
    "ruby": ["main.rb"],
    "php": ["main.php"],
    "perl": ["main.pl"],
    "lua": ["main.lua"],
}
COMMENT = {"python": "#", "bash": "#", "ruby": "#", "perl": "#", "lua": "--"}
OTHERS = ["bash", "ruby", "php", "perl", "lua"]
PENDING = {"queued", "running"}


def load_program(language, level):
    d = CORPUS / language / level
    if not d.is_dir():  # "others" have simple and medium only
        d = CORPUS / language / "medium"
    files = [{"name": n, "content": (d / n).read_text()} for n in ENTRY[language] if (d / n).exists()]
    return {
        "language": language,
        "files": files,
        "stdin": (d / "input.txt").read_text(),
        "expected_output": (d / "expected.txt").read_text(),
    }


PROGRAMS = {(l, c): load_program(l, c) for l in ENTRY for c in ("simple", "medium", "complex")}


def weighted(choices):
    return random.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class KilnUser(FastHttpUser):
    wait_time = constant_pacing(float(os.environ.get("KILN_PACING", "3")))

    def on_start(self):
        key = os.environ.get("KILN_API_KEY")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.mode = os.environ.get("KILN_MODE", "wait")

    def submit(self, name, languages, levels, unique=False):
        lang = weighted(languages)
        if lang == "others":
            lang = random.choice(OTHERS)
        level = weighted(levels)
        body = dict(PROGRAMS[(lang, level)])
        if unique:
            files = [dict(f) for f in body["files"]]
            files[0]["content"] += f"\n{COMMENT.get(lang, '//')} locust nonce {uuid.uuid4()}\n"
            body["files"] = files
        path = "/api/v1/submissions?wait=true" if self.mode == "wait" else "/api/v1/submissions"
        label = f"{name} {lang}/{level}"
        with self.client.post(path, json=body, headers=self.headers, name=label, catch_response=True) as resp:
            if resp.status_code not in (200, 201, 202):
                resp.failure(f"HTTP {resp.status_code}")
                return
            doc = resp.json()
            deadline = time.time() + 120
            while doc.get("status") in PENDING and time.time() < deadline:
                time.sleep(0.2)
                doc = self.client.get(f"/api/v1/submissions/{doc['id']}", headers=self.headers, name="poll").json()
            status = doc.get("status")
            if status != "accepted":
                resp.failure(f"verdict {status}")
            elif doc.get("stdout", "").rstrip() != body["expected_output"].rstrip():
                resp.failure("accepted with wrong output")
            else:
                resp.success()

    @tag("burst")
    @task
    def burst(self):
        self.submit(
            "burst",
            [("python", 40), ("javascript", 25), ("cpp", 20), ("java", 10), ("others", 5)],
            [("simple", 60), ("medium", 40)],
        )

    @tag("mixed")
    @task
    def mixed(self):
        self.submit(
            "mixed",
            [("python", 35), ("javascript", 30), ("cpp", 15), ("java", 15), ("others", 5)],
            [("simple", 60), ("medium", 40)],
        )

    @tag("compilation")
    @task
    def compilation(self):
        self.submit(
            "compilation",
            [("cpp", 40), ("c", 25), ("java", 20), ("rust", 10), ("go", 5)],
            [("simple", 30), ("medium", 50), ("complex", 20)],
            unique=True,
        )
