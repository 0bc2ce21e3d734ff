"""``labkit data``: the penguin batch stream with planted, growing drift (session 7)."""

from __future__ import annotations

from pathlib import Path

import typer

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, fail, print_rows

app = typer.Typer(help="Data for the monitoring labs: a deterministic stream of batches with growing drift.")

FEATURES_HELP = "Numeric feature to shift; repeatable [default: flipper_length_mm and body_mass_g]."


@app.command("batches")
def batches(
    n: int = typer.Option(8, "--n", help="How many batches (batch 0 is the reference distribution)."),
    out: Path = typer.Option(Path("build/batches"), "--out", help="Folder for batch-NNN.csv and batches.json."),
    rows: int = typer.Option(200, "--rows", help="Penguins per batch."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same batches, byte for byte."),
    feature: list[str] = typer.Option([], "--feature", "-f", help=FEATURES_HELP),
    shift: float = typer.Option(0.5, "--shift", help="Reference std deviations added per drift level."),
    island_share: float = typer.Option(0.1, "--island-share", help="Share of rows moved to Torgersen per level."),
    start: int = typer.Option(1, "--start", help="First drifted batch; drift level = batch - start + 1."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Write a stream of penguin batches whose drift grows batch after batch.

    Batch k samples penguins with the random stream (seed, k); from batch --start on, the chosen numeric
    features move by level x --shift standard deviations and level x --island-share of the rows move to the
    island Torgersen. The species label is kept, so a model trained on batch 0 loses accuracy as drift grows.

    Example: labkit data batches --n 8 --out build/batches --feature bill_length_mm --shift 0.3
    """
    from labkit.data import DriftKnobs, write_batches

    try:
        knobs = DriftKnobs(
            numeric=tuple(feature) or DriftKnobs.numeric,
            shift_per_batch=shift,
            move_per_batch=island_share,
            start=start,
        )
        infos = write_batches(out, n, rows=rows, seed=seed, knobs=knobs)
    except ValueError as exc:
        fail(str(exc), "see `labkit data batches --help`")
    rows_out = [
        {"batch": i.index, "drift_level": i.level, "rows": i.rows, "moved_to_torgersen": i.moved_share, "file": i.path}
        for i in infos
    ]
    print_rows(rows_out, output, title=f"Batches in {out} (knobs in {out / 'batches.json'})")
    if output is OutputFormat.table:
        console.print(f"shifted features: {', '.join(knobs.numeric)} by {shift} std per drift level")
