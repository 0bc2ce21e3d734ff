"""The kit's images: their sizes, and with ``--build`` a cold build of each; with ``--archive`` handing one out.

    .venv/bin/python -m benchmarks.images                         # sizes of the images as they are now
    .venv/bin/python -m benchmarks.images --build --archive       # cold builds (~10 min), save + load an archive

``--build`` makes a new base with debootstrap (``labkit image base``), then builds every image on it with no
layer cache (``labkit image build NAME --no-cache``), one after the other; each step's seconds are printed.
``--archive`` saves the components image as a gzip archive (``labkit image save``) and loads it back
(``labkit image load-archive``). Sizes are what ``docker image inspect`` reports, as ``labkit image list``
shows them, against the goals the kit set itself.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from labkit.images import IMAGES, build_base_image, build_image, docker_client, list_images, load_archive, save_images
from labkit.versions import BASE_IMAGE

SIZE_GOALS_MB = {"components": 1500, "tfx": 3000}
MB = 1000 * 1000


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--build", action="store_true", help="a new base, then every image with no layer cache")
    parser.add_argument("--archive", action="store_true", help="save the components image as .tar.gz and load it")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    client = docker_client()
    builds: dict[str, float] = {}
    if args.build:
        builds["base"] = build_base_image()
        print(f"cold build base: {builds['base']:.0f} s", flush=True)
        for name in IMAGES:
            builds[name] = build_image(client, name, BASE_IMAGE, no_cache=True).seconds
            print(f"cold build {name}: {builds[name]:.0f} s", flush=True)
    sizes = {}
    for image in list_images(client):
        if not image.present:
            raise SystemExit(f"{image.tag} is not built: labkit image build --all")
        sizes[image.name] = {"tag": image.tag, "mb": (image.size_bytes or 0) / MB}
        goal = SIZE_GOALS_MB.get(image.name)
        print(f"{image.tag:28} {sizes[image.name]['mb']:>8,.0f} MB   goal {f'<= {goal:,} MB' if goal else '-'}")
    archive: dict[str, float] = {}
    if args.archive:
        tag = IMAGES["components"].tag
        with tempfile.TemporaryDirectory(prefix="labkit-archive-") as scratch:
            path = Path(scratch) / "components.tar.gz"
            start = time.perf_counter()
            archive["mb"] = save_images([tag], path) / MB
            archive["save_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            load_archive(client, path)
            archive["load_seconds"] = time.perf_counter() - start
        print(
            f"archive of {tag}: {archive['mb']:,.0f} MB (gzip), saved in {archive['save_seconds']:.0f} s, "
            f"loaded in {archive['load_seconds']:.0f} s"
        )
    if builds:
        print(f"cold builds, total: {sum(builds.values()):.0f} s")
    recording.write(
        args.json,
        {"sizes": sizes, "size_goals_mb": SIZE_GOALS_MB, "cold_build_seconds": builds, "archive": archive},
    )


if __name__ == "__main__":
    main()
