"""Renders the kustomizations under deploy/kubernetes into plain documents.

Generated secrets read env files the user creates (secrets.env, keda-redis.env,
git-ignored). For validation the tree is copied to a temporary directory where
each `*.env.example` is filled with placeholder values, so the real files are
never needed nor touched.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

PLACEHOLDER = "validation-placeholder"
# Shapes the rules check; any non-empty value renders.
EXAMPLE_VALUES = {
    "KILN_STORE": "postgres://kiln:" + PLACEHOLDER + "@postgres.kiln.svc:5432/kiln",
    "KILN_QUEUE": "redis://:" + PLACEHOLDER + "@redis.kiln.svc:6379/0",
    "KILN_API_KEYS": PLACEHOLDER,
    "address": "redis.kiln.svc:6379",
    "password": PLACEHOLDER,
}


class RenderError(Exception):
    pass


def kustomize_command():
    """The renderer available here: `kubectl kustomize` or `kustomize build`, else None."""
    for cmd in (["kubectl", "kustomize"], ["kustomize", "build"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run(cmd + ["--help"], capture_output=True, text=True)
        if probe.returncode == 0:
            return cmd
    return None


def env_example_keys(path):
    """Keys of an env example file, with their (must be empty) values."""
    out = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise RenderError(f"{path}:{n}: expected KEY=VALUE, got {line!r}")
        k, v = line.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def fill_examples(tree):
    """Writes X.env beside each X.env.example with placeholder values."""
    for example in Path(tree).rglob("*.env.example"):
        keys = env_example_keys(example)
        lines = [f"{k}={EXAMPLE_VALUES.get(k, PLACEHOLDER)}" for k in keys]
        example.with_name(example.name[: -len(".example")]).write_text("\n".join(lines) + "\n")


def load_documents(text, origin):
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise RenderError(f"{origin}: not valid YAML: {e}") from e
    for d in docs:
        if not isinstance(d, dict):
            raise RenderError(f"{origin}: a document is not a mapping: {d!r:.80}")
    return docs


def render_dir(kdir, cmd):
    """Documents of one kustomization directory (already inside a filled copy)."""
    if cmd is not None:
        p = subprocess.run(cmd + [str(kdir)], capture_output=True, text=True)
        if p.returncode != 0:
            raise RenderError(f"{' '.join(cmd)} {kdir} failed:\n{p.stderr.strip()}")
        return load_documents(p.stdout, f"rendered {kdir}")
    # No renderer: validate each listed resource file as it is.
    k = yaml.safe_load((Path(kdir) / "kustomization.yaml").read_text())
    docs = []
    for res in k.get("resources", []):
        path = Path(kdir) / res
        docs += load_documents(path.read_text(), str(path))
    # The secretGenerator entries, as kustomize would emit them (no name hash).
    for gen in k.get("secretGenerator", []):
        data = {}
        for env in gen.get("envs", []):
            data.update(env_example_keys(Path(kdir) / env))
        docs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": gen["name"]}, "stringData": data})
    # The configMapGenerator entries (plain settings files, e.g. loadtest/run.env).
    for gen in k.get("configMapGenerator", []):
        data = {}
        for env in gen.get("envs", []):
            data.update(env_example_keys(Path(kdir) / env))
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": gen["name"]}, "data": data})
    ns = k.get("namespace")
    for d in docs:
        if ns and d.get("kind") != "Namespace":
            d.setdefault("metadata", {}).setdefault("namespace", ns)
    return docs


def render_all(kube_root, use_kustomize=True):
    """{kustomization dir name: documents} for every kustomization under kube_root,
    and the renderer used (None: files validated one by one)."""
    cmd = kustomize_command() if use_kustomize else None
    out = {}
    with tempfile.TemporaryDirectory(prefix="kiln-deploy-") as tmp:
        copy = Path(tmp) / "kubernetes"
        shutil.copytree(kube_root, copy)
        fill_examples(copy)
        for k in sorted(copy.rglob("kustomization.yaml")):
            rel = k.parent.relative_to(copy)
            if "testdata" in rel.parts:
                continue
            out[str(rel)] = render_dir(k.parent, cmd)
    return out, cmd


def identities(rendered):
    """{folder: sorted (kind, namespace, name)}: what a render produced."""
    return {f: sorted((d.get("kind"), (d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name"))
                      for d in docs) for f, docs in rendered.items()}


def check_fallback_matches(kube_root, rendered):
    """The renderer-less path (used where no kustomize exists) yields the same
    objects as kustomize, so a machine without kustomize validates the same set."""
    fallback, _ = render_all(kube_root, use_kustomize=False)
    a, b = identities(rendered), identities(fallback)
    return [f"{f}: kustomize renders {a.get(f)}, the file-by-file fallback {b.get(f)}"
            for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
