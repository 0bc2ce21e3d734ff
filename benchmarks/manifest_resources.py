"""Sum of CPU/memory requests and limits: the kit's KFP install against upstream KFP 2.17.0 as shipped.

    .venv/bin/python -m benchmarks.manifest_resources               # upstream from ../shared/upstream
    .venv/bin/python -m benchmarks.manifest_resources --mirror DIR  # or any mirror (`labkit cluster mirror`)

Both sides are real renders of the same upstream files: the kit's overlay (manifests/kfp) and upstream's
env/platform-agnostic alone. Counts the main and sidecar containers of long-running workloads (Deployments,
StatefulSets), times replicas; init containers and Jobs are left out because they hold nothing while KFP runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from labkit.manifests import default_mirror, render_from_mirror, resource_sums, without_components
from labkit.paths import REPO_ROOT
from labkit.versions import KFP_MANIFESTS_REF


def _shown(resources: list[float] | None) -> str:
    if resources is None:
        return "-"
    cpu, memory, cpu_limit, memory_limit = resources
    return f"{cpu:.0f}m {memory:.0f}Mi / {cpu_limit:.0f}m {memory_limit:.0f}Mi"


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--mirror", type=Path, default=default_mirror(), help="upstream mirror laid out by URL")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    if args.mirror is None:
        parser.error("no mirror found: pass --mirror DIR (make one with `labkit cluster mirror --out DIR`)")
    overlay = REPO_ROOT / "manifests" / "kfp"
    kit = resource_sums(render_from_mirror(overlay, args.mirror))
    upstream = resource_sums(render_from_mirror(overlay, args.mirror, patch=without_components))
    print(f"KFP {KFP_MANIFESTS_REF} resources, kit overlay vs upstream env/platform-agnostic (both from {args.mirror})")
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
    print("per container, requests / limits as millicores, MiB (0: unset): kit | upstream")
    for name in sorted(set(kit.per_container) | set(upstream.per_container)):
        print(f"  {name:64} {_shown(kit.per_container.get(name))} | {_shown(upstream.per_container.get(name))}")
    recording.write(
        args.json,
        {
            "mirror": str(args.mirror),
            "kfp_manifests_ref": KFP_MANIFESTS_REF,
            "kit": dataclasses.asdict(kit),
            "upstream": dataclasses.asdict(upstream),
        },
    )


if __name__ == "__main__":
    main()
