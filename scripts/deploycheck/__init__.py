"""Offline validation of Kiln's deployment files (deploy/).

Module map:
- render     -- renders each kustomization (kubectl kustomize / kustomize) into documents.
- schemas    -- Kubernetes JSON schemas (kubernetes-validate) and CRD schemas (node validators).
- rules      -- Kiln-specific checks the schemas cannot know: selectors, ports, probes,
                secret references, the worker's exact privileges, autoscaler targets.
- metrics    -- the metric names and labels Kiln exports (live `kiln serve` scrape, or metrics.rs).
- monitoring -- promtool checks and unit tests, the Grafana dashboard, PrometheusRule drift,
                prometheus-adapter values.
- prometheus_e2e -- a real Prometheus scrapes a live `kiln serve`; every dashboard query returns data.
- selftest   -- known-bad inputs each check must reject.
- __main__   -- the command line (scripts/validate-deploy.sh calls it).
"""
