"""Locust driver for Kiln's submission API, for teams that already use Locust.

Tags follow the load-test plan; their language and complexity mixes are read
from `kiln loadtest`'s scenario files (crates/loadtest/scenarios/*.toml):
  burst        burst.toml: Python 40 %, JavaScript 25 %, C++ 20 %, Java 10 %, others 5 %
  mixed        sustained.toml: Python 35 %, JavaScript 30 %, C++ 15 %, Java 15 %, others 5 %
  compilation  compilation.toml: C++ 40 %, C 25 %, Java 20 %, Rust 10 %, Go 5 %;
               simple 30 %, medium 50 %, complex 20 %; unique sources

Programs come from Kiln's load-test corpus (loadtest/corpus/corpus.json, the
same programs `kiln loadtest` and the k6 scripts send), each with its stdin
and expected output, so a wrong verdict is a failure, not just a non-200.

    locust -f loadtest/locust/locustfile.py --host=http://localhost:3000 \
        --headless -u 50 -r 50 --run-time 1m -T burst

Environment: KILN_API_KEY (Bearer key), KILN_PACING (seconds per task per user,
default 3: 50 users ≈ 16.7 RPS as in the plan's burst; 0 = as fast as possible),
KILN_MODE (wait | poll, default wait).

Locust runs a closed model and rounds latencies; `kiln loadtest` is the
open-model, coordinated-omission-correct generator.
"""

import json
import os
import random
import time
import tomllib
import uuid
from pathlib import Path

from locust import FastHttpUser, constant_pacing, tag, task

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "loadtest" / "corpus"
SCENARIOS = ROOT / "crates" / "loadtest" / "scenarios"
PENDING = {"queued", "running"}
LEVELS = ("simple", "medium", "complex")


def load_corpus():
    """Every (language, level) -> request body, from loadtest/corpus/corpus.json."""
    manifest = json.loads((CORPUS / "corpus.json").read_text())
    programs, comments = {}, {}
    for lang in manifest["languages"]:
        name = lang["language"]
        comments[name] = lang["comment"]
        for level in LEVELS:
            spec = lang["levels"][level]
            served = spec if isinstance(spec, str) else level  # a string: served by that level
            d = CORPUS / name / served
            files = lang["levels"][served]
            programs[(name, level)] = {
                "language": name,
                "files": [{"name": n, "content": (d / n).read_text()} for n in files],
                "stdin": (d / "input.txt").read_text(),
                "expected_output": (d / "expected.txt").read_text(),
            }
    return programs, comments, manifest["others"]


PROGRAMS, COMMENT, OTHERS = load_corpus()


def mix(scenario):
    """(languages, complexity levels, unique sources) of a `kiln loadtest` scenario file."""
    doc = tomllib.loads((SCENARIOS / f"{scenario}.toml").read_text())
    languages = list(doc.get("languages", {"python": 1}).items())
    levels = list(doc.get("complexity", {"simple": 1}).items())
    return languages, levels, doc.get("submit", {}).get("unique_sources", False)


MIXES = {"burst": mix("burst"), "mixed": mix("sustained"), "compilation": mix("compilation")}


def weighted(choices):
    return random.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


class KilnUser(FastHttpUser):
    wait_time = constant_pacing(float(os.environ.get("KILN_PACING", "3")))

    def on_start(self):
        key = os.environ.get("KILN_API_KEY")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.mode = os.environ.get("KILN_MODE", "wait")

    def submit(self, name):
        languages, levels, unique = MIXES[name]
        lang = weighted(languages)
        if lang == "others":
            lang = random.choice(OTHERS)
        level = weighted(levels)
        body = dict(PROGRAMS[(lang, level)])
        if unique:
            files = [dict(f) for f in body["files"]]
            files[0]["content"] += f"\n{COMMENT[lang]} locust nonce {uuid.uuid4()}\n"
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
        self.submit("burst")

    @tag("mixed")
    @task
    def mixed(self):
        self.submit("mixed")

    @tag("compilation")
    @task
    def compilation(self):
        self.submit("compilation")
