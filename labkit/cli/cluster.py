"""``labkit cluster``: the course's kind cluster with Kubeflow Pipelines 2.17 (up, down, status, load-images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, err_console, fail, print_rows
from labkit.cluster import (
    CLUSTER_NAME,
    ClusterError,
    ClusterEvent,
    PrerequisiteError,
    cluster_down,
    cluster_status,
    cluster_up,
    kit_images,
    load_images_into_kind,
)

app = typer.Typer(
    help=(
        "The course cluster: kind + Kubeflow Pipelines 2.17, installed from the kit's manifests.\n\n"
        "Needs Docker (6+ GiB for it), kind and kubectl, and internet for the first `up` (~2 GB of images), or "
        "an offline bundle: `labkit cluster bundle` on a connected machine, `labkit cluster up --from-bundle DIR` "
        "in the classroom. Every command is safe to repeat; an interrupted `up` resumes where it stopped."
    ),
    no_args_is_help=True,
)

NAME_OPTION = typer.Option(CLUSTER_NAME, "--name", help="kind cluster name.")


class _ClusterProgress:
    """One rich row per step; counted steps (deployments, images) get a bar."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._rows: dict[str, TaskID] = {}

    def __call__(self, event: ClusterEvent) -> None:
        if event.step == "check":
            mark = "[green]✓[/]" if event.finished else "[yellow]![/]"
            self._progress.console.print(f"{mark} {event.message}")
            return
        row = self._rows.get(event.step)
        if row is None:
            row = self._progress.add_task(event.message, total=event.total)
            self._rows[event.step] = row
        self._progress.update(row, description=event.message, total=event.total, completed=event.done or 0)
        if event.finished:
            self._progress.update(row, completed=event.total or 1, total=event.total or 1)
            del self._rows[event.step]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


@app.command("up")
def up(
    name: str = NAME_OPTION,
    environments: bool = typer.Option(True, help="Also create namespaces labkit-dev/test/prod with quotas."),
    from_bundle: Path | None = typer.Option(
        None,
        "--from-bundle",
        help="Install from an offline bundle (`labkit cluster bundle`): no network, nothing pulled.",
        exists=True,
        file_okay=False,
    ),
) -> None:
    """Create the cluster (if absent) and install Kubeflow Pipelines; prints the UI URL.

    Checks first, each with its fix: Docker, kind, kubectl, memory, inotify limits, CPU, free ports.
    Then: kind cluster -> KFP CRDs -> wait -> the kit's overlay -> wait for every deployment.
    First run: 10-20 min (image pulls). Safe to repeat; an interrupted run resumes.

    Example: labkit cluster up
    Example: labkit cluster up --from-bundle /media/usb/labkit-bundle   (classroom, no network)
    """
    try:
        with _progress() as progress:
            url = cluster_up(_ClusterProgress(progress), name=name, with_environments=environments, bundle=from_bundle)
    except PrerequisiteError as exc:
        for check in exc.failed:
            # soft_wrap: an install command must stay on one line to be copy-pasted
            err_console.print(f"[bold red]✗ {check.name}[/]: {check.detail}", soft_wrap=True)
            err_console.print(f"  [yellow]fix:[/] {check.fix}", soft_wrap=True)
        fail("the cluster cannot be created until the checks above pass", "fix them and run `labkit cluster up` again")
    except ClusterError as exc:
        fail(str(exc), exc.fix or "run `labkit cluster up` again: it resumes")
    console.print(f"[green]Kubeflow Pipelines is up:[/] {url}")
    console.print("next: `labkit image load`, then `labkit pipeline run training --runner cluster`")


def _bundle_progress(progress: Progress) -> Callable[[str, int, int], None]:
    sink = _ClusterProgress(progress)
    return lambda what, done, total: sink(ClusterEvent("bundle", what, done, total))


@app.command("mirror")
def mirror(
    out: Path = typer.Option(..., "--out", help="Folder to write the mirror into (github.com/ORG/REPO@REF/...)."),
    source: Path | None = typer.Option(None, "--from", help="Copy from another mirror instead of git (offline)."),
) -> None:
    """Mirror every upstream kustomize base the kit installs, laid out by URL, for offline renders and tests.

    Follows upstream's own references too (KFP's manifests pull argo-workflows by URL). Needs git and network,
    unless --from names another mirror. Tests and benchmarks read it through LABKIT_UPSTREAM_MIRROR.

    Example: labkit cluster mirror --out ~/labkit-upstream && export LABKIT_UPSTREAM_MIRROR=~/labkit-upstream
    """
    from labkit.bundle import BundleError, fetch_mirror

    if (out / "github.com").exists():
        fail(f"{out} already holds a mirror", "pick a new --out folder, or delete this one first")
    try:
        with _progress() as progress:
            followed = fetch_mirror(out, source=source, on_progress=_bundle_progress(progress))
    except BundleError as exc:
        fail(str(exc), exc.fix)
    for reference in followed:
        console.print(f"{reference.repository}@{reference.ref}: {reference.path}")
    console.print(f"mirror written to {out}")


@app.command("bundle")
def bundle(
    out: Path = typer.Option(..., "--out", help="Folder for the bundle (a USB stick's folder works)."),
    mirror_source: Path | None = typer.Option(
        None, "--mirror", help="Take upstream's manifests from this mirror instead of git."
    ),
    pull: bool = typer.Option(True, help="Pull images missing from the local engine (--no-pull: use only local ones)."),
    platform: str | None = typer.Option(None, help="Pull for this platform, e.g. linux/amd64 (KFP's images)."),
) -> None:
    """Write an offline classroom bundle: upstream manifests + every image the cluster will ever run.

    Run it once on a connected machine (after `labkit image build --all`); it needs ~8 GB of disk. The image
    list is read from the same render `cluster up` applies, the driver, launcher and argoexec images that KFP
    pulls only at the first run included. Interrupted? Run it again: it resumes.

    Example: labkit cluster bundle --out /media/usb/labkit-bundle
    Then, on each laptop: labkit cluster up --from-bundle /media/usb/labkit-bundle
    """
    from labkit.bundle import BundleError, build_bundle

    try:
        with _progress() as progress:
            manifest = build_bundle(
                out, mirror_source=mirror_source, pull=pull, platform=platform, on_progress=_bundle_progress(progress)
            )
    except BundleError as exc:
        fail(str(exc), exc.fix)
    size = sum(image.size_bytes for image in manifest.images) / 2**30
    console.print(f"bundle written to {out}: {len(manifest.images)} images, {size:.1f} GiB")
    console.print(f"next, on each laptop: labkit cluster up --from-bundle {out}")


@app.command("down")
def down(name: str = NAME_OPTION) -> None:
    """Delete the cluster and everything in it (runs, artifacts). Harmless when there is none."""
    try:
        deleted = cluster_down(name)
    except ClusterError as exc:
        fail(str(exc), exc.fix)
    console.print(f"deleted kind cluster {name!r}" if deleted else f"no kind cluster {name!r}; nothing to do")


@app.command("status")
def status(name: str = NAME_OPTION, output: OutputFormat = OUTPUT_OPTION) -> None:
    """Is the cluster there, does its API answer, and which KFP deployments are available."""
    try:
        found = cluster_status(name)
    except ClusterError as exc:
        fail(str(exc), exc.fix)
    rows = [
        {"deployment": deployment, "available": f"{ready}/{desired}", "ok": ready >= desired}
        for deployment, (ready, desired) in sorted(found.deployments.items())
    ]
    if output is OutputFormat.json:
        print_rows([{"cluster": name, "exists": found.exists, "ready": found.ready, "deployments": rows}], output)
        return
    if not found.exists:
        fail(f"no kind cluster named {name!r}", "labkit cluster up")
    if not found.reachable:
        fail(f"cluster {name!r} exists but its API does not answer", "check its node with `docker ps`")
    print_rows(rows, output, title=f"KFP in kind-{name}")
    waiting = "[yellow]not ready yet[/]: `labkit cluster up` waits for it"
    console.print(f"UI: {found.ui_url}" if found.ready else waiting)


def image_load(
    images: list[str] = typer.Argument(None, help="Images to load [default: the kit's components and TFX images]."),
    name: str = NAME_OPTION,
) -> None:
    """Copy locally built images into the kind node (`kind load docker-image`), so tasks need no pull.

    Example: labkit image load              (the kit's components and TFX images)
    Example: labkit image load my-image:1.0
    """
    try:
        with _progress() as progress:
            loaded = load_images_into_kind(
                images or kit_images(), name, _ClusterProgress(progress), skip_missing=not images
            )
    except ClusterError as exc:
        fail(str(exc), exc.fix)
    console.print(f"loaded into kind-{name}: {', '.join(loaded)}")


app.command("load-images")(image_load)
