// Validates custom resources (KEDA, Prometheus Operator) against the CRD
// schemas compiled into the @kubernetes-models packages.
// Usage: node crd-validate.mjs NODE_MODULES_DIR < docs.json
// stdin: JSON array of documents; stdout: JSON array of {index, error|null}.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
if (!modules) {
  console.error("usage: node crd-validate.mjs NODE_MODULES_DIR < docs.json");
  process.exit(2);
}
// apiVersion/kind -> [package, file under the package, exported class]
const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda", "keda.sh/v1alpha1/ScaledObject.js", "ScaledObject"],
  "keda.sh/v1alpha1/TriggerAuthentication": ["@kubernetes-models/keda", "keda.sh/v1alpha1/TriggerAuthentication.js", "TriggerAuthentication"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1/ServiceMonitor.js", "ServiceMonitor"],
  "monitoring.coreos.com/v1/PodMonitor": ["@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1/PodMonitor.js", "PodMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1/PrometheusRule.js", "PrometheusRule"],
};

const docs = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const [index, doc] of docs.entries()) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const model = MODELS[key];
  if (!model) {
    results.push({ index, error: `no CRD schema known for ${key}` });
    continue;
  }
  const [pkg, file, cls] = model;
  const mod = await import(pathToFileURL(join(modules, pkg, file)).href);
  // ES modules export the class by name; CommonJS ones through `default`.
  const Model = mod[cls] ?? mod.default?.[cls];
  try {
    new Model(doc).validate();
    results.push({ index, error: null });
  } catch (e) {
    results.push({ index, error: String(e.message || e) });
  }
}
process.stdout.write(JSON.stringify(results));
