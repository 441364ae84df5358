"""Negative self-test: known-bad variants of the real files, each of which one
check must reject. A check that lets its bad variant through fails the run."""

import copy
import json
import tempfile
from pathlib import Path

from . import monitoring, rules, schemas


def find(docs, k, n):
    return next(d for d in docs if d.get("kind") == k and d["metadata"]["name"] == n)


def worker(docs):
    return rules.workers(docs)[0]


def container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def _typo(docs):
    worker(docs)["spec"]["replica"] = 2


def _wrong_type(docs):
    container(find(docs, "Deployment", "kiln-api"))["ports"][0]["containerPort"] = "3000"


def _privileged(docs):
    container(worker(docs))["securityContext"]["privileged"] = True


def _extra_cap(docs):
    container(worker(docs))["securityContext"]["capabilities"]["add"].append("NET_ADMIN")


def _missing_cap(docs):
    container(worker(docs))["securityContext"]["capabilities"]["add"].remove("SETUID")


def _no_userns(docs):
    env = container(worker(docs))["env"]
    env[:] = [e for e in env if e.get("name") != "KILN_USER_NAMESPACES"]


def _host_path(docs):
    worker(docs)["spec"]["template"]["spec"]["volumes"].append({"name": "cg", "hostPath": {"path": "/sys/fs/cgroup"}})


def _secret_key(docs):
    for e in container(worker(docs))["env"]:
        if e["name"] == "KILN_STORE":
            e["valueFrom"]["secretKeyRef"]["key"] = "KILN_STROE"


def _service_selector(docs):
    find(docs, "Service", "kiln-api")["spec"]["selector"] = {"app": "kiln-apl"}


def _short_grace(docs):
    worker(docs)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 10


def _api_root(docs):
    dep = find(docs, "Deployment", "kiln-api")
    dep["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")
    container(dep)["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


def _so_type(docs):
    find(docs, "ScaledObject", "kiln-worker")["spec"]["minReplicaCount"] = "2"


def _so_target(docs):
    find(docs, "ScaledObject", "kiln-worker")["spec"]["scaleTargetRef"]["name"] = "kiln-api"


def _so_stream(docs):
    find(docs, "ScaledObject", "kiln-worker")["spec"]["triggers"][0]["metadata"]["stream"] = "jobs"


def _monitor_port(docs):
    find(docs, "PodMonitor", "kiln-worker")["spec"]["podMetricsEndpoints"][0]["port"] = "http"


def _rule_schema(docs):
    find(docs, "PrometheusRule", "kiln")["spec"]["groups"][0]["rules"][0].pop("expr")


def _lt_parallelism(docs):
    find(docs, "Job", "kiln-loadtest-generators")["spec"]["parallelism"] = 1


def _lt_not_indexed(docs):
    find(docs, "Job", "kiln-loadtest-generators")["spec"].pop("completionMode")


# (what is wrong, folder rendered with the base, mutation, text the error must contain)
MANIFEST_CASES = [
    ("unknown field spec.replica", "base", _typo, "'replica' was unexpected"),
    ("containerPort as a string", "base", _wrong_type, "is not of type 'integer'"),
    ("privileged worker", "base", _privileged, "must not be privileged"),
    ("worker with NET_ADMIN", "base", _extra_cap, "extra ['NET_ADMIN']"),
    ("worker without SETUID", "base", _missing_cap, "missing ['SETUID']"),
    ("worker without KILN_USER_NAMESPACES=required", "base", _no_userns, "must set KILN_USER_NAMESPACES=required"),
    ("hostPath volume", "base", _host_path, "is a hostPath"),
    ("secretKeyRef to a missing key", "base", _secret_key, "has no key 'KILN_STROE'"),
    ("Service selecting no pod", "base", _service_selector, "selects no pod"),
    ("grace period shorter than the drain", "base", _short_grace, "must exceed KILN_SHUTDOWN_GRACE_SECS"),
    ("API with root and SYS_ADMIN", "base", _api_root, "set runAsNonRoot"),
    ("ScaledObject minReplicaCount as a string", "keda", _so_type, "minReplicaCount must be integer"),
    ("ScaledObject scaling the API", "keda", _so_target, "is not the worker Deployment"),
    ("ScaledObject on another stream", "keda", _so_stream, "must be redis-streams on code-execution-jobs:container"),
    ("PodMonitor on a missing port", "monitoring", _monitor_port, "is not a container port name"),
    ("PrometheusRule rule without expr", "monitoring", _rule_schema, "must have required property expr"),
    ("load generators one at a time", "loadtest", _lt_parallelism, "must both equal KILN_SHARDS"),
    ("load generators not indexed", "loadtest", _lt_not_indexed, "completionMode must be Indexed"),
]


def manifest_errors(docs, node_modules):
    return schemas.validate_all(docs, node_modules) + rules.check_all(docs)


def run(rendered, node_modules, dashboard, alerts, adapter_values, exported):
    """(names of bad variants that were NOT rejected, number of variants tried)."""
    escaped = []
    base = rendered["base"]
    for label, folder, mutate, expect in MANIFEST_CASES:
        docs = copy.deepcopy(base + ([] if folder == "base" else rendered[folder]))
        mutate(docs)
        if not any(expect in e for e in manifest_errors(docs, node_modules)):
            escaped.append(f"{label} (no error saying {expect!r})")
    dash = json.loads(Path(dashboard).read_text())
    bad_dashes = []
    d1 = copy.deepcopy(dash)
    d1["panels"][3]["targets"][0]["expr"] = "max(code_execution_queue_lenght)"
    bad_dashes.append(("dashboard metric Kiln does not export", d1))
    d2 = copy.deepcopy(dash)
    d2["panels"].pop()
    bad_dashes.append(("dashboard missing a panel", d2))
    d3 = copy.deepcopy(dash)
    d3["panels"][1]["targets"][0]["expr"] = "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))"
    bad_dashes.append(("dashboard query with a syntax error", d3))
    d4 = copy.deepcopy(dash)
    d4["panels"][5]["targets"][0]["expr"] = "sum by (lang) (increase(code_execution_job_duration_seconds_count[$__range]))"
    bad_dashes.append(("dashboard grouping by a label Kiln does not set", d4))
    d5 = copy.deepcopy(dash)
    d5["panels"][6]["targets"][0]["expr"] = "sum(rate(code_execution_stage_seconds_sum[$__rate_interval]))"
    bad_dashes.append(("stage decomposition not by stage", d5))
    with tempfile.TemporaryDirectory() as tmp:
        for label, d in bad_dashes:
            p = Path(tmp) / "dash.json"
            p.write_text(json.dumps(d))
            errs = monitoring.check_dashboard(p, exported)
            # The label check needs label names, which only a live scrape gives.
            if not errs and not (label.endswith("does not set") and all(v is None for v in exported.values())):
                escaped.append(label)
        bad_alerts = Path(tmp) / "alerts.yml"
        bad_alerts.write_text(Path(alerts).read_text().replace("> 0.05", "> > 0.05", 1))
        tests = Path(tmp) / "alerts_test.yml"
        tests.write_text("rule_files: [alerts.yml]\ntests: []\n")
        if not monitoring.check_alerts(bad_alerts, tests, exported):
            escaped.append("alert rule with a syntax error")
    hpas = copy.deepcopy([d for d in rendered["hpa-prometheus-adapter"] if d.get("kind") == "HorizontalPodAutoscaler"])
    hpas[0]["spec"]["metrics"][0]["external"]["metric"]["name"] = "code_execution_queue_length"
    if not any("no External rule serves" in e for e in monitoring.check_adapter_values(adapter_values, hpas, exported)):
        escaped.append("HPA asking for a metric the adapter does not serve")
    return escaped, len(MANIFEST_CASES) + len(bad_dashes) + 2
