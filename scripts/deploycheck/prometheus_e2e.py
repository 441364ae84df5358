"""End to end: a real Prometheus (Debian's package, beside promtool) scrapes a
real `kiln serve` on 127.0.0.1, as job kiln-api and as job kiln-worker, while
submissions run; every dashboard query must then return data. The two
failure-only series (5xx, internal_error) may stay empty on a healthy server,
but they too must evaluate without error."""

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from . import metrics, monitoring

# (panel title, refId) of queries that count only failures.
MAY_BE_EMPTY = {("Error rate", "A"), ("Error rate", "C")}
MAX_SUBMISSIONS = 40


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


@contextlib.contextmanager
def running_prometheus(binary, jobs, timeout=30):
    """Prometheus scraping every second; jobs: {job name: host:port}. Yields host:port."""
    with tempfile.TemporaryDirectory(prefix="kiln-prometheus-") as tmp:
        cfg = Path(tmp) / "prometheus.yml"
        cfg.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": j, "static_configs": [{"targets": [t]}]} for j, t in jobs.items()],
        }))
        addr = f"127.0.0.1:{free_port()}"
        log = open(Path(tmp) / "prometheus.log", "w")
        proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
                                 f"--web.listen-address={addr}", "--log.level=warn"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://{addr}/-/ready", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError(f"prometheus did not become ready: {(Path(tmp) / 'prometheus.log').read_text()[-800:]}")
                time.sleep(0.2)
            yield addr
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def query(prom, expr):
    """(error or None, number of series/samples returned)."""
    url = f"http://{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        body = get_json(url)
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}: {e.read().decode(errors='replace')[:300]}", 0
    if body.get("status") != "success":
        return f"{body.get('errorType')}: {body.get('error')}", 0
    return None, len(body["data"]["result"])


def bad_request(addr):
    """A submission Kiln must refuse with 4xx (feeds the 4xx+5xx series)."""
    req = urllib.request.Request(f"http://{addr}/api/v1/submissions", data=b'{"language":"no-such-language","source":""}',
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=10).close()
    except urllib.error.HTTPError as e:
        if not 400 <= e.code < 500:
            raise
        return
    raise RuntimeError("a submission in an unknown language was accepted")


def dashboard_queries(path):
    dash = json.loads(Path(path).read_text())
    variables = {v["name"]: str((v.get("current") or {}).get("value") or v.get("query") or "")
                 for v in (dash.get("templating") or {}).get("list", [])}
    return [((p.get("title"), t.get("refId")), monitoring.substitute(t["expr"], variables))
            for p in monitoring.dashboard_panels(dash) for t in p.get("targets") or []]


def check(dashboard, repo):
    """([errors], note). Skipped (no errors) when Kiln or Prometheus cannot run here."""
    kiln_bin, why = metrics.live_binary(repo)
    prom_bin = shutil.which("prometheus")
    if not kiln_bin or not prom_bin:
        return [], f"skipped: {why or 'no prometheus binary (Debian package prometheus)'}"
    queries = dashboard_queries(dashboard)
    errors = []
    pending = dict(queries)
    sent = 0
    with metrics.running_server(kiln_bin) as addr, \
            running_prometheus(prom_bin, {"kiln-api": addr, "kiln-worker": addr}) as prom:
        while pending and sent < MAX_SUBMISSIONS:
            metrics.submit(addr)
            bad_request(addr)
            sent += 1
            time.sleep(1.0)  # one scrape interval between rounds
            for key, expr in list(pending.items()):
                err, n = query(prom, expr)
                if err:
                    errors.append(f"panel {key[0]!r} query {key[1]}: Prometheus refused it: {err}")
                    del pending[key]
                elif n and key not in MAY_BE_EMPTY:
                    del pending[key]
                elif key in MAY_BE_EMPTY and sent >= 3:
                    del pending[key]  # evaluated fine; empty because nothing failed
    errors += [f"panel {k[0]!r} query {k[1]}: no data after {sent} submissions: {e}" for k, e in pending.items()]
    return errors, f"{len(queries)} queries, {sent} submissions"
