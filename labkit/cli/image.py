"""``labkit image``: build the kit's container images, list them, and hand them out as a tarball."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from labkit import images
from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, err_console, fail, print_rows
from labkit.versions import BASE_IMAGE, KIT_VERSION, PUBLIC_BASE_IMAGE

app = typer.Typer(
    help=(
        "Build the kit's container images, list them, and hand them out as a tarball.\n\n"
        "Typical classroom flow: `labkit image base` (only without a registry), `labkit image build --all`, "
        "`labkit image save --all` onto a USB stick, and `labkit image load-archive FILE` on each laptop."
    ),
    no_args_is_help=True,
)

DEFAULT_ARCHIVE = Path("build") / f"labkit-images-{KIT_VERSION}.tar.gz"


def _client():
    try:
        return images.docker_client()
    except images.DockerUnavailableError as exc:
        fail(str(exc), images.DOCKER_FIX)


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:,.0f} MB"


def _names(name: str | None, all_images: bool, verb: str) -> list[str]:
    if bool(name) == all_images:
        choices = ", ".join(images.IMAGES)
        fail(f"give an image NAME or --all (not both); images: {choices}", f"labkit image {verb} --all")
    if name and name not in images.IMAGES:
        fail(str(images.UnknownImageError(name)), "see `labkit image list`")
    return list(images.IMAGES) if all_images else [name]  # type: ignore[list-item]


@app.command("base")
def base(
    image: str = typer.Option(BASE_IMAGE, "--image", help="Name:tag of the base image to create."),
) -> None:
    """Build the Python base image from Debian packages, with no image registry (offline classrooms).

    Runs scripts/build-base-image.sh: debootstrap of Debian 13 (trixie) with python3, then `docker import`.
    The host's CA bundle is trusted inside it, so pip works behind a TLS-inspecting proxy. Needs root,
    debootstrap and a Docker engine. Afterwards `labkit image build` uses it automatically.
    """
    _client().close()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console) as progress:
        row = progress.add_task(f"building {image}", total=None)

        def on_line(line: str) -> None:
            if line.startswith("==>"):
                progress.console.print(line)
            progress.update(row, description=f"building {image}: {line[:90]}")

        try:
            seconds = images.build_base_image(on_line, image)
        except (images.ImageBuildError, FileNotFoundError) as exc:
            progress.stop()
            for line in getattr(exc, "log_tail", [])[-15:]:
                err_console.print(f"  {line}", markup=False, highlight=False)
            fail(str(exc), "read the lines above; the script says what is missing (root, debootstrap, Docker)")
        progress.update(row, total=1, completed=1, description=f"[green]✓[/] {image}")
    console.print(f"[green]built[/] {image} in {seconds:.0f} s; now run `labkit image build --all`")


@app.command("build")
def build(
    name: str = typer.Argument(None, help=f"Image to build: {', '.join(images.IMAGES)}."),
    all_images: bool = typer.Option(False, "--all", help="Build every image of the kit."),
    base_image: str = typer.Option(
        None,
        "--base",
        help=f"Base image (BASE_IMAGE build-arg); default: {BASE_IMAGE} if built here, else {PUBLIC_BASE_IMAGE}.",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer (a cold build)."),
) -> None:
    """Build the kit's images from components/images/*/Dockerfile, tagged with the kit version.

    Example: labkit image build components
    Example: labkit image build --all --base labkit-base:trixie

    The components image is what `labkit pipeline run training --runner docker` runs every task in.
    """
    names = _names(name, all_images, "build")
    client = _client()
    chosen, why = images.choose_base(client, base_image)
    err_console.print(f"base image: [bold]{chosen}[/] ({why})")
    columns = (
        SpinnerColumn(finished_text=""),
        TextColumn("{task.description}", markup=True),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    results = []
    for image_name in names:
        spec = images.get_spec(image_name)
        with Progress(*columns, console=err_console) as progress:
            row = progress.add_task(f"{spec.tag}", total=None)

            def on_event(event: images.BuildEvent, row=row, progress=progress, tag=spec.tag) -> None:
                if event.kind == "step":
                    progress.update(row, total=event.total, completed=(event.step or 1) - 1)
                    progress.update(row, description=f"{tag}: {event.message[:70]}")
                elif event.message.startswith(("slim-venv:", "kfp ", "tfx ")):
                    progress.console.print(f"  {event.message}", markup=False, highlight=False)

            try:
                result = images.build_image(client, image_name, chosen, on_event, no_cache=no_cache)
            except images.ImageBuildError as exc:
                progress.stop()
                for line in exc.log_tail[-20:]:
                    err_console.print(f"  {line}", markup=False, highlight=False)
                fix = "read the build output above"
                if chosen == PUBLIC_BASE_IMAGE:
                    fix += f"; without a registry, build the local base first: `labkit image base` ({BASE_IMAGE})"
                fail(str(exc), fix)
            progress.update(row, completed=progress.tasks[0].total or 1, description=f"[green]✓[/] {spec.tag}")
        results.append(result)
        console.print(f"[green]built[/] {result.tag} ({_mb(result.size_bytes)}) in {result.seconds:.0f} s")
    client.close()


@app.command("list")
def list_command(output: OutputFormat = OUTPUT_OPTION) -> None:
    """List the base and the kit's images: tag, size, age, or "not built" with the command that builds it."""
    client = _client()
    rows = []
    for info in images.list_images(client):
        rows.append(
            {
                "name": info.name,
                "tag": info.tag,
                "size": _mb(info.size_bytes) if output is OutputFormat.table else info.size_bytes,
                "age": info.age() if info.present else "not built",
                "id": info.image_id or "-",
            }
        )
    client.close()
    print_rows(rows, output, title=f"labkit images (kit {KIT_VERSION})")
    if output is OutputFormat.table and not all(row["age"] != "not built" for row in rows):
        err_console.print("build what is missing with `labkit image build --all` (or `labkit image base` first)")


@app.command("save")
def save(
    name: str = typer.Argument(None, help=f"Image to save: {', '.join(images.IMAGES)}."),
    all_images: bool = typer.Option(False, "--all", help="Save every image of the kit into one archive."),
    out: Path = typer.Option(DEFAULT_ARCHIVE, "--out", help="Archive to write (.tar, or .tar.gz to compress)."),
) -> None:
    """Save images to one tarball a teacher can hand out (USB stick, shared folder).

    Example: labkit image save --all --out /media/usb/labkit-images-0.1.0.tar.gz
    On each laptop: labkit image load-archive /media/usb/labkit-images-0.1.0.tar.gz
    """
    names = _names(name, all_images, "save")
    client = _client()
    tags = [images.get_spec(n).tag for n in names]
    missing = [tag for tag in tags if not images.image_exists(client, tag)]
    total = sum(client.images.get(tag).attrs["Size"] for tag in tags if tag not in missing)
    client.close()
    if missing:
        fail(f"not built here: {', '.join(missing)}", "labkit image build --all")
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console) as progress:
        row = progress.add_task(f"saving {', '.join(tags)}", total=total)
        try:
            size = images.save_images(tags, out, lambda n: progress.advance(row, n))
        except (RuntimeError, images.DockerUnavailableError) as exc:
            fail(str(exc), images.DOCKER_FIX)
        progress.update(row, completed=total)
    console.print(f"[green]saved[/] {', '.join(tags)} to {out} ({_mb(size)})")


@app.command("load-archive")
def load_archive(
    archive: Path = typer.Argument(..., help="A tarball made by `labkit image save` (or `docker save`)."),
) -> None:
    """Load images from a tarball into the local Docker engine, with no registry and no network.

    Example: labkit image load-archive /media/usb/labkit-images-0.1.0.tar.gz
    """
    if not archive.is_file():
        fail(f"{archive} does not exist", "give the path of the archive made by `labkit image save`")
    client = _client()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console) as progress:
        row = progress.add_task(f"loading {archive.name}", total=archive.stat().st_size)
        try:
            loaded = images.load_archive(client, archive, lambda n: progress.advance(row, n))
        except RuntimeError as exc:
            fail(str(exc), "is it a tarball from `labkit image save`? Check it with `tar tzf FILE | head`")
    client.close()
    console.print(f"[green]loaded[/] {', '.join(loaded) or 'nothing'}; see `labkit image list`")
