"""Schema validation: core kinds against the Kubernetes JSON schemas that the
PyPI package kubernetes-validate ships (strict: unknown fields are errors),
custom resources against the CRD schemas of the npm @kubernetes-models packages."""

import functools
import json
import subprocess
from pathlib import Path

import kubernetes_validate
import kubernetes_validate.utils
from kubernetes_validate.utils import SchemaNotFoundError

# The package re-reads (megabytes of) schema JSON on every call; the files do not
# change during a run, and the self-test validates the same kinds many times.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents)

# The oldest Kubernetes the manifests target (appArmorProfile, preStop sleep
# need 1.30) and the newest schemas the package ships.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
CRD_GROUPS = ("keda.sh/", "monitoring.coreos.com/")
HERE = Path(__file__).resolve().parent


def doc_name(doc):
    m = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{m.get('name')}"


def is_crd(doc):
    return str(doc.get("apiVersion", "")).startswith(CRD_GROUPS)


def validate_core(doc):
    """Error strings for one core document (empty when valid)."""
    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            errors.append(f"{doc_name(doc)}: Kubernetes {version} schema: at {path or '(root)'}: {e.message}")
        except SchemaNotFoundError as e:
            errors.append(f"{doc_name(doc)}: {e.message}")
    return errors


def validate_crds(docs, node_modules):
    """Error strings for custom resources, validated by crd-validate.mjs."""
    if not docs:
        return []
    p = subprocess.run(
        ["node", str(HERE / "crd-validate.mjs"), str(node_modules)],
        input=json.dumps(docs), capture_output=True, text=True,
    )
    if p.returncode != 0:
        return [f"CRD validation could not run (node exited {p.returncode}): {p.stderr.strip()}"]
    return [f"{doc_name(docs[r['index']])}: CRD schema: {r['error']}"
            for r in json.loads(p.stdout) if r["error"]]


def validate_all(docs, node_modules):
    errors = []
    for d in docs:
        if "apiVersion" not in d or "kind" not in d:
            errors.append(f"a document has no apiVersion/kind: {json.dumps(d)[:80]}")
        elif not is_crd(d):
            errors += validate_core(d)
    errors += validate_crds([d for d in docs if is_crd(d)], node_modules)
    return errors
