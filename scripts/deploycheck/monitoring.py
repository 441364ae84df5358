"""Checks of the observability files: promtool on the alert rules and their unit
tests, the Grafana dashboard (the plan's six panels, valid PromQL, only metric
and label names Kiln exports), and the PrometheusRule generated from alerts.yml."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from .metrics import SCRAPE_LABELS

PANELS = ["Request rate vs target", "Response time percentiles", "Error rate",
          "Queue depth", "Worker utilization", "Language distribution",
          # Not the plan's: where a submission's time goes (the result's stages).
          "Stage decomposition"]
# The load-test plan's warning signs, plus workers down / none at all.
ALERTS = {"KilnP95LatencyRising", "KilnErrorRateHigh", "KilnQueueDepthGrowing",
          "KilnWorkerUtilizationHigh", "KilnWorkerDown", "KilnNoWorkers"}
# Series alerts may use that Prometheus or kube-state-metrics provide.
NON_KILN_SERIES = {"up", "kube_pod_container_status_restarts_total"}
KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2"}
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
RULE_NAME = "kiln"


def promtool():
    return shutil.which("promtool")


def run_promtool(*args):
    p = subprocess.run([promtool(), *args], capture_output=True, text=True)
    return [] if p.returncode == 0 else [f"promtool {' '.join(args)}:\n{(p.stdout + p.stderr).strip()}"]


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_refs(expr):
    """(metric names, label names used) in a PromQL expression."""
    e = strip_strings(expr)
    labels = set()
    for m in re.finditer(r"\{([^}]*)\}", e):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(1)))
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", e):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)", e):
        rest = e[m.end():].lstrip()
        if m.group(1) in KEYWORDS or rest.startswith("("):
            continue
        names.add(m.group(1))
    return names, labels


def check_refs(where, expr, exported, allowed=frozenset()):
    errors = []
    names, labels = metric_refs(expr)
    if not names and not re.fullmatch(r"\s*vector\([\d.]+\)\s*", expr):
        errors.append(f"{where}: the expression references no metric: {expr}")
    known = set()
    for n in sorted(names):
        if n in allowed:
            continue
        if n not in exported:
            errors.append(f"{where}: metric {n!r} is not exported by Kiln")
        elif exported[n] is not None:
            known |= exported[n]
    # Labels are checked only when every series in the expression is Kiln's own.
    if known and not names & set(allowed):
        for lab in sorted(labels - known - SCRAPE_LABELS - {"le"}):
            errors.append(f"{where}: label {lab!r} is not on the series {sorted(names)}")
    return errors


def load_yaml(path):
    return yaml.safe_load(Path(path).read_text())


def check_alerts(alerts, tests, exported):
    errors = []
    if promtool() is None:
        return ["promtool not found (Debian package prometheus); scripts/validate-deploy.sh installs it"]
    errors += run_promtool("check", "rules", str(alerts))
    errors += run_promtool("test", "rules", str(tests))
    rules = [r for g in load_yaml(alerts).get("groups", []) for r in g.get("rules", [])]
    missing = ALERTS - {r.get("alert") for r in rules}
    if missing:
        errors.append(f"{alerts}: alerts missing for the plan's warning signs: {sorted(missing)}")
    for r in rules:
        errors += check_refs(f"{alerts}: {r.get('alert') or r.get('record')}", r["expr"], exported, NON_KILN_SERIES)
    return errors


def prometheus_rule(alerts):
    """The PrometheusRule (Prometheus Operator) carrying alerts.yml's groups."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": RULE_NAME, "labels": {"release": "kube-prometheus-stack"}},
        "spec": {"groups": load_yaml(alerts)["groups"]},
    }


def write_prometheus_rule(alerts, target):
    header = ("# GENERATED from deploy/prometheus/alerts.yml by scripts/validate-deploy.sh --write;\n"
              "# edit alerts.yml, then regenerate. The validation fails when this file is stale.\n")
    Path(target).write_text(header + yaml.safe_dump(prometheus_rule(alerts), sort_keys=False, width=200))


def check_prometheus_rule(alerts, target):
    if not Path(target).exists():
        return [f"{target} is missing; run scripts/validate-deploy.sh --write"]
    if load_yaml(target) != prometheus_rule(alerts):
        return [f"{target} differs from {alerts}; run scripts/validate-deploy.sh --write"]
    return []


def dashboard_panels(dash):
    out = []
    for p in dash.get("panels", []):
        out += p.get("panels", []) if p.get("type") == "row" else [p]
    return out


def substitute(expr, variables):
    def var(m):
        name = m.group(1) or m.group(2)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return variables[name]
        raise KeyError(name)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", var, expr)


def check_dashboard(path, exported):
    try:
        dash = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        return [f"{path}: not valid JSON: {e}"]
    errors = []
    variables = {v["name"]: str((v.get("current") or {}).get("value") or v.get("query") or "")
                 for v in (dash.get("templating") or {}).get("list", [])}
    panels = dashboard_panels(dash)
    titles = [p.get("title") for p in panels]
    if sorted(titles) != sorted(PANELS):
        errors.append(f"{path}: panels must be exactly the plan's six and the stage decomposition {PANELS}, found {titles}")
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids):
        errors.append(f"{path}: panel ids repeat: {ids}")
    records = []
    for p in panels:
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{path}: panel {p.get('title')!r} has no query")
        for t in targets:
            where = f"{path}: panel {p.get('title')!r} query {t.get('refId')}"
            try:
                expr = substitute(t.get("expr", ""), variables)
            except KeyError as e:
                errors.append(f"{where}: unknown dashboard variable ${e.args[0]}")
                continue
            errors += check_refs(where, expr, exported)
            records.append({"record": f"kiln_dashboard:panel{p.get('id')}_{t.get('refId')}", "expr": expr})
    by_title = {p.get("title"): " ".join(t.get("expr", "") for t in p.get("targets") or []) for p in panels}
    pct = by_title.get("Response time percentiles", "")
    for q in ("0.5", "0.9", "0.95", "0.99"):
        if f"histogram_quantile({q}," not in pct:
            errors.append(f"{path}: the percentiles panel lacks histogram_quantile({q}, …)")
    if "code_execution_active_jobs" not in by_title.get("Worker utilization", "") or "code_execution_workers" not in by_title.get("Worker utilization", ""):
        errors.append(f"{path}: worker utilization must be code_execution_active_jobs / code_execution_workers")
    if "by (language)" not in by_title.get("Language distribution", ""):
        errors.append(f"{path}: the language distribution must group by language")
    if "by (stage)" not in by_title.get("Stage decomposition", ""):
        errors.append(f"{path}: the stage decomposition must group code_execution_stage_seconds by stage")
    if promtool() is not None and records:
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}, f)
        errors += [e.replace(f.name, f"{path} (queries as rules)") for e in run_promtool("check", "rules", f.name)]
        Path(f.name).unlink()
    return errors


def check_adapter_values(values_path, hpa_docs, exported):
    """prometheus-adapter's rules serve every metric the HPA asks for, from series
    Kiln exports (the file is Helm values, not a manifest, so no schema applies)."""
    try:
        values = load_yaml(values_path)
    except (OSError, yaml.YAMLError) as e:
        return [f"{values_path}: {e}"]
    errors = []
    served = {"Pods": set(), "External": set()}
    for kind_, section in (("Pods", "custom"), ("External", "external")):
        for rule in (values.get("rules") or {}).get(section) or []:
            served[kind_].add((rule.get("name") or {}).get("as"))
            query = re.sub(r"<<[^>]*>>", "", rule.get("metricsQuery", ""))
            errors += check_refs(f"{values_path}: rules.{section} {rule.get('name')}", query, exported)
            series, _ = metric_refs(rule.get("seriesQuery", ""))
            errors += [f"{values_path}: seriesQuery {s!r} is not a series Kiln exports" for s in series if s not in exported]
    for hpa in hpa_docs:
        for m in (hpa.get("spec") or {}).get("metrics") or []:
            k = m.get("type")
            if k in served:
                wanted = ((m.get(k.lower()) or {}).get("metric") or {}).get("name")
                if wanted not in served[k]:
                    errors.append(f"{values_path}: no {k} rule serves the metric {wanted!r} the HPA asks for")
    return errors
