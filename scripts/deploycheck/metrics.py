"""The metric names (with their label names) that Kiln exports.

Preferred source: a real `kiln serve` started on 127.0.0.1 with one in-process
worker; one submission is run so that the job histograms exist, then /metrics is
scraped. Without a built binary (or without root, which the sandbox needs) the
names come from crates/server/src/metrics.rs: its constants, with the
`_bucket`/`_sum`/`_count` series of the metrics it gives buckets to.
"""

import contextlib
import json
import os
import re
import select
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

# Labels Prometheus adds at scrape time or the Kubernetes service discovery
# relabels in; they are not in Kiln's own output.
SCRAPE_LABELS = {"job", "instance", "namespace", "pod", "container", "service", "endpoint"}
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')


def parse_exposition(text):
    """{metric series name: set of label names} from Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if m:
            out.setdefault(m.group(1), set()).update(LABEL.findall(m.group(3) or ""))
    return out


def from_source(metrics_rs):
    """Names from metrics.rs; label names are unknown (None) on this path."""
    src = Path(metrics_rs).read_text()
    consts = dict(re.findall(r'pub const ([A-Z_]+): &str = "([a-z_:]+)";', src))
    if not consts:
        raise RuntimeError(f"{metrics_rs}: no `pub const NAME: &str = \"metric\";` found")
    bucketed = re.search(r"\[([A-Z_, ]+)\]\s*\.into_iter\(\)", src)
    histos = {consts[c.strip()] for c in bucketed.group(1).split(",")} if bucketed else set()
    out = {}
    for name in consts.values():
        if name in histos:
            for suffix in ("_bucket", "_sum", "_count"):
                out[name + suffix] = None
        else:
            out[name] = None
    return out


def _read_address(proc, deadline):
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([proc.stderr], [], [], 0.5)
        if r:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            m = re.search(rb"listening on http://(\S+)\r?\n", buf)
            if m:
                return m.group(1).decode()
        if proc.poll() is not None:
            break
    raise RuntimeError(f"kiln serve did not start: {buf.decode(errors='replace')[-800:]}")


@contextlib.contextmanager
def running_server(kiln_bin, timeout=60):
    """A real `kiln serve` (embedded, one worker) on 127.0.0.1; yields host:port."""
    with tempfile.TemporaryDirectory(prefix="kiln-metrics-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
        proc = subprocess.Popen(
            [kiln_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        try:
            yield _read_address(proc, time.time() + timeout)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def submit(addr, source="print(6 * 7)", timeout=60):
    """Runs one Python submission with wait=true; returns the result."""
    body = json.dumps({"language": "python", "source": source}).encode()
    req = urllib.request.Request(f"http://{addr}/api/v1/submissions?wait=true", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        result = json.load(r)
    if result.get("status") in (None, "queued", "running"):
        raise RuntimeError(f"the probe submission did not finish: {result}")
    return result


def scrape(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        return parse_exposition(r.read().decode())


def from_live_server(kiln_bin):
    """Starts `kiln serve`, runs one Python job, scrapes /metrics."""
    with running_server(kiln_bin) as addr:
        submit(addr)
        return scrape(addr)


def live_binary(repo):
    """The kiln binary to run, or None with the reason it cannot be used."""
    kiln_bin = os.environ.get("KILN_BIN") or str(Path(repo) / "target" / "debug" / "kiln")
    if not Path(kiln_bin).exists():
        return None, f"no kiln binary at {kiln_bin}"
    if os.geteuid() != 0:
        return None, "not root (the sandbox needs it)"
    return kiln_bin, ""


def exported(repo):
    """({name: labels or None}, description of the source)."""
    kiln_bin, why = live_binary(repo)
    if kiln_bin:
        return from_live_server(kiln_bin), f"scraped from a running {kiln_bin} serve"
    return from_source(Path(repo) / "crates/server/src/metrics.rs"), f"parsed from metrics.rs ({why})"
