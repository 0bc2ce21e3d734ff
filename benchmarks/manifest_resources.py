"""Sum of CPU/memory requests and limits: the kit's KFP overlay against upstream KFP 2.17.0's defaults.

    python benchmarks/manifest_resources.py            # offline: the kit's component over the upstream stand-in
    python benchmarks/manifest_resources.py --online   # renders the real upstream base and overlay (needs network)

Counts the main and sidecar containers of long-running workloads (Deployments, StatefulSets), times replicas;
init containers and Jobs are left out because they do not hold resources while KFP runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import yaml

from labkit.manifests import ResourceSum, render, resource_sums, upstream_standin_documents
from labkit.paths import REPO_ROOT
from labkit.versions import KFP_MANIFESTS_REF

UPSTREAM_URL = (
    f"https://github.com/kubeflow/pipelines//manifests/kustomize/env/platform-agnostic?ref={KFP_MANIFESTS_REF}"
)


def offline() -> tuple[ResourceSum, ResourceSum]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "standin.yaml").write_text(yaml.safe_dump_all(upstream_standin_documents()))
        component = os.path.relpath(REPO_ROOT / "manifests" / "kfp" / "laptop", root)
        (root / "kustomization.yaml").write_text(
            yaml.safe_dump({"resources": ["standin.yaml"], "components": [component]})
        )
        kit = resource_sums(render(root))
    return kit, resource_sums(upstream_standin_documents())


def online() -> tuple[ResourceSum, ResourceSum]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [UPSTREAM_URL]}))
        upstream = resource_sums(render(Path(tmp), timeout=600))
    return resource_sums(render(REPO_ROOT / "manifests" / "kfp", timeout=600)), upstream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--online", action="store_true", help="render upstream from GitHub (needs network)")
    args = parser.parse_args()
    kit, upstream = online() if args.online else offline()
    source = "rendered upstream base" if args.online else "upstream stand-in (labkit.manifests)"
    print(f"KFP {KFP_MANIFESTS_REF} resources, kit overlay vs {source}")
    print(f"{'':28}{'kit':>10}{'upstream':>10}{'kit/upstream':>14}")
    rows = [
        ("containers", kit.containers, upstream.containers),
        ("requests cpu (millicores)", kit.requests_cpu_m, upstream.requests_cpu_m),
        ("requests memory (MiB)", kit.requests_memory_mib, upstream.requests_memory_mib),
        ("limits cpu (millicores)", kit.limits_cpu_m, upstream.limits_cpu_m),
        ("limits memory (MiB)", kit.limits_memory_mib, upstream.limits_memory_mib),
        ("containers without requests", kit.without_requests, upstream.without_requests),
        ("containers without limits", kit.without_limits, upstream.without_limits),
    ]
    for label, mine, theirs in rows:
        ratio = f"{mine / theirs:.2f}" if theirs else "n/a"
        print(f"{label:28}{mine:>10.0f}{theirs:>10.0f}{ratio:>14}")


if __name__ == "__main__":
    main()
