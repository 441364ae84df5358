"""Kiln-specific checks of rendered manifests: what a schema cannot know.

Selectors must select the pods they are meant for, named ports and probe ports
must exist, every Secret/ConfigMap reference must resolve, the worker must hold
exactly the sandbox's capabilities (and nothing like privileged or hostPath),
the API none, and autoscalers must target the worker Deployment and the queue.
"""

from pathlib import Path

from .render import env_example_keys
from .schemas import doc_name

WORKER_LABELS = {"app": "code-execution-worker"}
# What crates/sandbox calls and needs (docs/kubernetes.md, "Worker privileges").
# With a user namespace per box (KILN_USER_NAMESPACES=required, checked below):
# the namespaces, mounts and pivot_root; the maps and the helper's drop.
SANDBOX_CAPS = {"SYS_ADMIN", "SETUID", "SETGID"}
STREAM = "code-execution-jobs:container"
GROUP = "kiln-workers"
API_PORT = 3000
METRICS_PORT = 9091


def kind(docs, k):
    return [d for d in docs if d.get("kind") == k]


def ns(d):
    return (d.get("metadata") or {}).get("namespace", "default")


def name(d):
    return (d.get("metadata") or {}).get("name")


def pod_spec(dep):
    return ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_labels(dep):
    return (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selected_workloads(docs, namespace, selector):
    return [d for d in kind(docs, "Deployment") if ns(d) == namespace and matches(selector, pod_labels(d))]


def containers(dep):
    return pod_spec(dep).get("containers") or []


def port_names(dep):
    return {p.get("name") for c in containers(dep) for p in c.get("ports") or []}


def env_value(container, key):
    for e in container.get("env") or []:
        if e.get("name") == key:
            return e.get("value")
    return None


def check_selectors(docs):
    errors = []
    for dep in kind(docs, "Deployment"):
        sel = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not matches(sel, pod_labels(dep)):
            errors.append(f"{doc_name(dep)}: spec.selector {sel} does not match its pod labels {pod_labels(dep)}")
    for d in kind(docs, "Service"):
        spec = d.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        targets = selected_workloads(docs, ns(d), spec.get("selector") or {})
        if not targets:
            errors.append(f"{doc_name(d)}: selector {spec.get('selector')} selects no pod of any Deployment")
        for p in spec.get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            for t in targets:
                if isinstance(tp, str) and tp not in port_names(t):
                    errors.append(f"{doc_name(d)}: targetPort {tp!r} is not a container port name of {doc_name(t)}")
    for d in kind(docs, "PodDisruptionBudget") + kind(docs, "NetworkPolicy"):
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or spec.get("podSelector") or {}).get("matchLabels") or {}
        if not selected_workloads(docs, ns(d), sel):
            errors.append(f"{doc_name(d)}: selector {sel} selects no pod of any Deployment")
    for d in kind(docs, "ServiceMonitor"):
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        svcs = [s for s in kind(docs, "Service") if ns(s) == ns(d) and matches(sel, (s.get("metadata") or {}).get("labels") or {})]
        if not svcs:
            errors.append(f"{doc_name(d)}: selector {sel} selects no Service")
        for ep in spec.get("endpoints") or []:
            for s in svcs:
                if ep.get("port") not in {p.get("name") for p in (s.get("spec") or {}).get("ports") or []}:
                    errors.append(f"{doc_name(d)}: endpoint port {ep.get('port')!r} is not a port name of {doc_name(s)}")
    for d in kind(docs, "PodMonitor"):
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        pods = selected_workloads(docs, ns(d), sel)
        if not pods:
            errors.append(f"{doc_name(d)}: selector {sel} selects no pod of any Deployment")
        for ep in spec.get("podMetricsEndpoints") or []:
            for p in pods:
                if ep.get("port") not in port_names(p):
                    errors.append(f"{doc_name(d)}: port {ep.get('port')!r} is not a container port name of {doc_name(p)}")
    return errors


def check_probes(docs):
    errors = []
    for dep in kind(docs, "Deployment"):
        for c in containers(dep):
            names = {p.get("name") for p in c.get("ports") or []}
            numbers = {p.get("containerPort") for p in c.get("ports") or []}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if port is not None and port not in names and port not in numbers:
                    errors.append(f"{doc_name(dep)}: {probe} port {port!r} is not a port of container {c.get('name')}")
    return errors


def secret_keys(docs, namespace, secret):
    for s in kind(docs, "Secret"):
        if ns(s) == namespace and name(s) == secret:
            return set((s.get("data") or {}).keys()) | set((s.get("stringData") or {}).keys())
    return None


def configmap_keys(docs, namespace, cm):
    for c in kind(docs, "ConfigMap"):
        if ns(c) == namespace and name(c) == cm:
            return set((c.get("data") or {}).keys())
    return None


def check_references(docs):
    errors = []
    for dep in kind(docs, "Deployment"):
        n = ns(dep)
        for c in containers(dep):
            for src in c.get("envFrom") or []:
                if "configMapRef" in src and configmap_keys(docs, n, src["configMapRef"].get("name")) is None:
                    errors.append(f"{doc_name(dep)}: envFrom ConfigMap {src['configMapRef'].get('name')!r} is not defined")
                if "secretRef" in src and secret_keys(docs, n, src["secretRef"].get("name")) is None:
                    errors.append(f"{doc_name(dep)}: envFrom Secret {src['secretRef'].get('name')!r} is not defined")
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {})
                for key, lookup, what in (("secretKeyRef", secret_keys, "Secret"), ("configMapKeyRef", configmap_keys, "ConfigMap")):
                    if key in ref:
                        keys = lookup(docs, n, ref[key].get("name"))
                        if keys is None:
                            errors.append(f"{doc_name(dep)}: env {e.get('name')}: {what} {ref[key].get('name')!r} is not defined")
                        elif ref[key].get("key") not in keys:
                            errors.append(f"{doc_name(dep)}: env {e.get('name')}: {what} {ref[key].get('name')!r} has no key {ref[key].get('key')!r}")
    for ta in kind(docs, "TriggerAuthentication"):
        for r in (ta.get("spec") or {}).get("secretTargetRef") or []:
            keys = secret_keys(docs, ns(ta), r.get("name"))
            if keys is None or r.get("key") not in keys:
                errors.append(f"{doc_name(ta)}: secretTargetRef {r.get('name')}/{r.get('key')} is not defined")
    auths = {(ns(t), name(t)) for t in kind(docs, "TriggerAuthentication")}
    for so in kind(docs, "ScaledObject"):
        for t in (so.get("spec") or {}).get("triggers") or []:
            ref = (t.get("authenticationRef") or {}).get("name")
            if ref is not None and (ns(so), ref) not in auths:
                errors.append(f"{doc_name(so)}: trigger {t.get('name')!r}: TriggerAuthentication {ref!r} is not defined")
    return errors


def workers(docs):
    return [d for d in kind(docs, "Deployment") if matches(WORKER_LABELS, pod_labels(d))]


def check_common_pod(dep, errors):
    spec = pod_spec(dep)
    for flag in ("hostPID", "hostIPC", "hostNetwork"):
        if spec.get(flag):
            errors.append(f"{doc_name(dep)}: {flag} must not be set")
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            errors.append(f"{doc_name(dep)}: volume {v.get('name')!r} is a hostPath; Kiln needs none")
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{doc_name(dep)}: automountServiceAccountToken must be false (Kiln never calls the Kubernetes API)")


def probe_path(c, probe):
    return ((c.get(probe) or {}).get("httpGet") or {}).get("path")


def check_worker(docs):
    errors = []
    ws = workers(docs)
    if len(ws) != 1:
        return [f"expected exactly one Deployment with pod labels {WORKER_LABELS}, found {len(ws)}"]
    dep = ws[0]
    check_common_pod(dep, errors)
    spec = pod_spec(dep)
    grace = int(spec.get("terminationGracePeriodSeconds", 30))
    drain = max([int((c.get("data") or {}).get("KILN_SHUTDOWN_GRACE_SECS", 30)) for c in kind(docs, "ConfigMap")] or [30])
    if grace <= drain:
        errors.append(f"{doc_name(dep)}: terminationGracePeriodSeconds {grace} must exceed KILN_SHUTDOWN_GRACE_SECS {drain} so a drain can finish")
    for c in containers(dep):
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        if sc.get("privileged"):
            errors.append(f"{doc_name(dep)}: container {c.get('name')} must not be privileged")
        if caps.get("drop") != ["ALL"]:
            errors.append(f"{doc_name(dep)}: container {c.get('name')} must drop ALL capabilities, drops {caps.get('drop')}")
        env = {e.get("name"): e.get("value") for e in (c.get("env") or [])}
        if env.get("KILN_USER_NAMESPACES") != "required":
            errors.append(f"{doc_name(dep)}: container {c.get('name')} must set KILN_USER_NAMESPACES=required: its capabilities are those of a user namespace per box, and the older model needs more")
        added = set(caps.get("add") or [])
        if added != SANDBOX_CAPS:
            extra, missing = sorted(added - SANDBOX_CAPS), sorted(SANDBOX_CAPS - added)
            errors.append(f"{doc_name(dep)}: container {c.get('name')} capabilities differ from the sandbox's needs: extra {extra}, missing {missing}")
        uid = sc.get("runAsUser", (spec.get("securityContext") or {}).get("runAsUser"))
        if uid != 0:
            errors.append(f"{doc_name(dep)}: the sandbox needs uid 0 in the pod, runAsUser is {uid}")
        if (c.get("args") or [None])[0] != "worker":
            errors.append(f"{doc_name(dep)}: container {c.get('name')} must run `kiln worker`, args are {c.get('args')}")
        ports = {p.get("containerPort") for p in c.get("ports") or []}
        if METRICS_PORT not in ports:
            errors.append(f"{doc_name(dep)}: container {c.get('name')} must expose the metrics port {METRICS_PORT}")
        if probe_path(c, "readinessProbe") != "/health" or probe_path(c, "livenessProbe") != "/health/live":
            errors.append(f"{doc_name(dep)}: readiness must GET /health and liveness /health/live")
        for key in ("KILN_STORE", "KILN_QUEUE"):
            if key not in {e.get("name") for e in c.get("env") or []}:
                errors.append(f"{doc_name(dep)}: container {c.get('name')} has no {key}")
    return errors


def check_api(docs):
    errors = []
    apis = [d for d in kind(docs, "Deployment") if any((c.get("args") or [None])[0] == "serve" for c in containers(d))]
    if not apis:
        return ["no Deployment runs `kiln serve`"]
    for dep in apis:
        check_common_pod(dep, errors)
        psc = pod_spec(dep).get("securityContext") or {}
        for c in containers(dep):
            sc = c.get("securityContext") or {}
            if not (psc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
                errors.append(f"{doc_name(dep)}: the API needs no root; set runAsNonRoot")
            caps = sc.get("capabilities") or {}
            if caps.get("drop") != ["ALL"] or caps.get("add"):
                errors.append(f"{doc_name(dep)}: the API must drop ALL capabilities and add none")
            if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
                errors.append(f"{doc_name(dep)}: the API must set allowPrivilegeEscalation: false and not be privileged")
            if API_PORT not in {p.get("containerPort") for p in c.get("ports") or []}:
                errors.append(f"{doc_name(dep)}: the API must listen on port {API_PORT}")
            if probe_path(c, "readinessProbe") != "/health" or probe_path(c, "livenessProbe") != "/health/live":
                errors.append(f"{doc_name(dep)}: readiness must GET /health and liveness /health/live")
            if env_value(c, "KILN_WORKERS") != "0":
                errors.append(f"{doc_name(dep)}: API nodes run no sandbox: KILN_WORKERS must be \"0\"")
    if not any(p.get("port") == API_PORT for s in kind(docs, "Service") for p in (s.get("spec") or {}).get("ports") or []):
        errors.append(f"no Service exposes port {API_PORT}")
    return errors


def check_autoscaling(docs):
    errors = []
    worker_names = {(ns(w), name(w)) for w in workers(docs)}
    for so in kind(docs, "ScaledObject"):
        spec = so.get("spec") or {}
        if (ns(so), (spec.get("scaleTargetRef") or {}).get("name")) not in worker_names:
            errors.append(f"{doc_name(so)}: scaleTargetRef {spec.get('scaleTargetRef')} is not the worker Deployment")
        lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            errors.append(f"{doc_name(so)}: minReplicaCount exceeds maxReplicaCount")
        for t in spec.get("triggers") or []:
            md = t.get("metadata") or {}
            if t.get("type") != "redis-streams" or md.get("stream") != STREAM or md.get("consumerGroup") != GROUP:
                errors.append(f"{doc_name(so)}: trigger {t.get('name')!r} must be redis-streams on {STREAM} group {GROUP}")
            if not any(k in md for k in ("pendingEntriesCount", "lagCount", "streamLength")):
                errors.append(f"{doc_name(so)}: trigger {t.get('name')!r} sets no target (pendingEntriesCount/lagCount)")
    for hpa in kind(docs, "HorizontalPodAutoscaler"):
        spec = hpa.get("spec") or {}
        if (ns(hpa), (spec.get("scaleTargetRef") or {}).get("name")) not in worker_names:
            errors.append(f"{doc_name(hpa)}: scaleTargetRef {spec.get('scaleTargetRef')} is not the worker Deployment")
        ext = [m for m in spec.get("metrics") or [] if m.get("type") == "External"]
        if not any(((m.get("external") or {}).get("metric") or {}).get("name") == "code_execution_queue_depth" for m in ext):
            errors.append(f"{doc_name(hpa)}: no External metric code_execution_queue_depth")
    return errors


def check_no_default_credentials(kube_root):
    """Every env example ships empty values: Kiln has no default credential."""
    errors = []
    for ex in sorted(Path(kube_root).rglob("*.env.example")):
        if "testdata" in ex.parts:
            continue
        for k, v in env_example_keys(ex).items():
            if v:
                errors.append(f"{ex}: {k} has a value ({v!r}); examples must leave every credential empty")
        real = ex.with_name(ex.name[: -len(".example")])
        ignore = ex.parent / ".gitignore"
        if not ignore.exists() or real.name not in ignore.read_text().split():
            errors.append(f"{ex.parent}/.gitignore must list {real.name} so filled secrets are never committed")
    return errors


def check_documented_caps(doc_path):
    """docs/kubernetes.md explains each capability the worker holds."""
    text = Path(doc_path).read_text() if Path(doc_path).exists() else ""
    return [f"{doc_path}: the privileges table does not explain CAP_{c}"
            for c in sorted(SANDBOX_CAPS) if f"| `CAP_{c}`" not in text]


def check_loadtest(docs):
    """deploy/kubernetes/loadtest: the generators are an Indexed Job with one
    pod per shard (completions = parallelism = KILN_SHARDS), no retries, each
    pod's shard from its completion index and the shared start time from the
    run's ConfigMap; the merge Job reads the same results volume."""
    errors = []
    jobs = {name(j): j for j in kind(docs, "Job")}
    gen = jobs.get("kiln-loadtest-generators")
    if gen is None:
        return errors
    spec = gen.get("spec") or {}
    run = configmap_data(docs, ns(gen), "kiln-loadtest-run") or {}
    shards = str(run.get("KILN_SHARDS", ""))
    if spec.get("completionMode") != "Indexed":
        errors.append(f"{doc_name(gen)}: completionMode must be Indexed (the shard index is the completion index)")
    if str(spec.get("completions")) != shards or str(spec.get("parallelism")) != shards:
        errors.append(f"{doc_name(gen)}: completions {spec.get('completions')} and parallelism {spec.get('parallelism')} "
                      f"must both equal KILN_SHARDS {shards!r} of ConfigMap kiln-loadtest-run (all shards run at once)")
    if spec.get("backoffLimit") != 0:
        errors.append(f"{doc_name(gen)}: backoffLimit must be 0 (a shard restarted late does not line up)")
    for c in containers(gen):
        env = {e.get("name"): e for e in c.get("env") or []}
        field = ((env.get("SHARD_INDEX") or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath", "")
        if "batch.kubernetes.io/job-completion-index" not in field:
            errors.append(f"{doc_name(gen)}: SHARD_INDEX must come from the job-completion-index annotation")
        if (env.get("KILN_SHARD") or {}).get("value") != "$(SHARD_INDEX)/$(KILN_SHARDS)":
            errors.append(f"{doc_name(gen)}: KILN_SHARD must be $(SHARD_INDEX)/$(KILN_SHARDS)")
    if not run.get("KILN_START_AT"):
        errors.append("ConfigMap kiln-loadtest-run: KILN_START_AT (the start barrier) is missing")
    merge = jobs.get("kiln-loadtest-merge")
    claim = lambda j: [((v.get("persistentVolumeClaim") or {}).get("claimName")) for v in pod_spec(j).get("volumes") or []]
    if merge is None:
        errors.append("the loadtest has no merge Job kiln-loadtest-merge")
    elif claim(merge) != claim(gen):
        errors.append(f"{doc_name(merge)}: reads volumes {claim(merge)}, the generators write {claim(gen)}")
    return errors


def configmap_data(docs, namespace, cm):
    for d in kind(docs, "ConfigMap"):
        if ns(d) == namespace and name(d) == cm:
            return d.get("data") or {}
    return None


CHECKS = [check_selectors, check_probes, check_references, check_worker, check_api, check_autoscaling, check_loadtest]


def check_all(docs):
    errors = []
    for check in CHECKS:
        try:
            errors += check(docs)
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            # Malformed input the schemas also reject; say so rather than crash.
            errors.append(f"{check.__name__} could not run on malformed input: {type(e).__name__}: {e}")
    return errors
