"""python -m deploycheck [--write] [--node-modules DIR] | files FILE...

Without arguments: renders and validates everything under deploy/, runs
promtool, checks the dashboard against Kiln's metrics, then the negative
self-test. `files FILE...` only schema-validates the given manifest files.
Exit 0 when everything passes, 1 on any failure."""

import argparse
import sys
import time
from pathlib import Path

from . import metrics, monitoring, prometheus_e2e, render, rules, schemas, selftest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBE = DEPLOY / "kubernetes"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "kiln-dashboard.json"
PROM_RULE = KUBE / "monitoring" / "prometheusrule.yaml"
ADAPTER_VALUES = KUBE / "hpa-prometheus-adapter" / "prometheus-adapter-values.yaml"


class Report:
    def __init__(self):
        self.failed = 0
        self.t0 = time.time()

    def step(self, title, errors):
        status = "ok" if not errors else f"FAILED ({len(errors)})"
        print(f"  [{time.time() - self.t0:5.1f}s] {title}: {status}")
        for e in errors:
            print("      " + e.replace("\n", "\n      "))
        self.failed += bool(errors)


def check_everything(node_modules, write):
    r = Report()
    if write:
        monitoring.write_prometheus_rule(ALERTS, PROM_RULE)
        print(f"  wrote {PROM_RULE.relative_to(REPO)}")
    try:
        rendered, cmd = render.render_all(KUBE)
    except render.RenderError as e:
        r.step("render kustomizations", [str(e)])
        return r
    how = " ".join(cmd) if cmd else "no kustomize here: each listed file"
    r.step(f"render {', '.join(sorted(rendered))} ({how})", [])
    if cmd:
        r.step("the fallback without kustomize yields the same objects", render.check_fallback_matches(KUBE, rendered))
    base = rendered.get("base", [])
    for folder, docs in sorted(rendered.items()):
        context = docs if folder == "base" else base + docs
        r.step(f"{folder}: {len(docs)} documents against the Kubernetes {' and '.join(schemas.K8S_VERSIONS)} and CRD schemas",
               schemas.validate_all(docs, node_modules))
        r.step(f"{folder}: selectors, ports, references, privileges, autoscaling", rules.check_all(context))
    r.step("no default credentials in the env examples", rules.check_no_default_credentials(KUBE))
    r.step("docs/kubernetes.md explains every worker capability", rules.check_documented_caps(REPO / "docs" / "kubernetes.md"))
    try:
        exported, source = metrics.exported(REPO)
    except Exception as e:  # a failed scrape is a failure, not a reason to skip
        r.step("metric names Kiln exports", [f"{type(e).__name__}: {e}"])
        return r
    r.step(f"metric names Kiln exports: {len(exported)} series, {source}", [])
    r.step("alert rules: promtool check + unit tests, metric names", monitoring.check_alerts(ALERTS, ALERT_TESTS, exported))
    r.step("PrometheusRule matches alerts.yml", monitoring.check_prometheus_rule(ALERTS, PROM_RULE))
    r.step("Grafana dashboard: six panels + stage decomposition, PromQL, metric and label names", monitoring.check_dashboard(DASHBOARD, exported))
    e2e_errors, note = prometheus_e2e.check(DASHBOARD, REPO)
    r.step(f"dashboard queries return data from Prometheus scraping a live kiln serve ({note})", e2e_errors)
    hpas = [d for d in rendered.get("hpa-prometheus-adapter", []) if d.get("kind") == "HorizontalPodAutoscaler"]
    r.step("prometheus-adapter values serve the HPA's metrics from Kiln's series",
           monitoring.check_adapter_values(ADAPTER_VALUES, hpas, exported))
    if r.failed:
        r.step("self-test: known-bad variants are rejected", ["skipped: fix the failures above first"])
        return r
    escaped, tried = selftest.run(rendered, node_modules, DASHBOARD, ALERTS, ADAPTER_VALUES, exported)
    r.step(f"self-test: {tried} known-bad variants are rejected", [f"not rejected: {e}" for e in escaped])
    return r


def check_files(paths, node_modules):
    r = Report()
    for p in paths:
        try:
            docs = render.load_documents(Path(p).read_text(), p)
        except (OSError, render.RenderError) as e:
            r.step(p, [str(e)])
            continue
        r.step(f"{p}: {len(docs)} documents", schemas.validate_all(docs, node_modules))
    return r


def main(argv):
    ap = argparse.ArgumentParser(prog="deploycheck", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node-modules", default=str(REPO / "target" / "deploy-validate" / "node_modules"),
                    help="where @kubernetes-models/keda and /prometheus-operator are installed")
    ap.add_argument("--write", action="store_true", help="regenerate the PrometheusRule from alerts.yml first")
    ap.add_argument("command", nargs="*", help="`files FILE...` to schema-validate single files")
    a = ap.parse_args(argv)
    if a.command and a.command[0] == "files":
        r = check_files(a.command[1:], a.node_modules)
    elif a.command:
        ap.error(f"unknown command {a.command[0]!r}")
    else:
        r = check_everything(a.node_modules, a.write)
    print(f"deploy validation: {'FAILED' if r.failed else 'passed'} in {time.time() - r.t0:.1f}s")
    return 1 if r.failed else 0


sys.exit(main(sys.argv[1:]))
