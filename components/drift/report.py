"""A self-contained HTML drift report: score table, scores per feature, reference vs current (inline PNGs)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from components.drift.logic import DriftResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 80


def _figure(width: float, height: float, rows: int, columns: int) -> tuple[Figure, np.ndarray]:
    """A bare Figure drawn by Agg: no pyplot (its import and backend set-up cost more than the drawing here)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    return figure, figure.subplots(rows, columns, squeeze=False)


def _png(figure: Figure) -> str:
    """The figure as an inline PNG <img>: rasterising is several times faster than SVG for many panels."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return f"<img alt='drift plot' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"


def scores_figure(result: DriftResult) -> str:
    names = [f.feature for f in result.features]
    colors = ["tab:red" if f.drifted else "tab:green" for f in result.features]
    width, height = 10.0, 0.45 * len(names) + 1.4
    figure, grid = _figure(width, height, 1, 2)
    axes = grid[0]
    axes[0].barh(names, [f.psi for f in result.features], color=colors)
    axes[0].axvline(result.thresholds.psi, color="black", linestyle="--", linewidth=1)
    axes[0].set_title("PSI (dashed: threshold)", y=1.0)
    axes[0].set_xlabel("PSI")
    axes[1].barh(names, [f.js_distance for f in result.features], color=colors)
    axes[1].axvline(result.thresholds.js, color="black", linestyle="--", linewidth=1)
    axes[1].set_title("Jensen-Shannon distance", y=1.0)
    axes[1].set_xlabel("distance (base 2)")
    axes[1].set_yticklabels([])
    for axis in axes:
        axis.invert_yaxis()
    # Fixed margins instead of tight_layout, which measures every tick label (half the drawing time): the left
    # one from the longest feature name at the default 10 pt (about 0.6 em per character).
    label_inches = max(map(len, names), default=1) * 0.6 * 10 / 72 + 0.25
    figure.subplots_adjust(
        left=min(label_inches / width, 0.4), right=0.98, top=1 - 0.35 / height, bottom=0.6 / height, wspace=0.08
    )
    return _png(figure)


def distributions_figure(result: DriftResult) -> str:
    """One panel per feature: reference vs current density (numeric) or category shares (categorical)."""
    columns = 4
    rows = -(-len(result.features) // columns)
    width, height = 3.2 * columns, 2.5 * rows
    figure, axes = _figure(width, height, rows, columns)
    for axis, feature in zip(axes.flat, result.features, strict=False):
        ref = np.asarray(feature.reference_counts, dtype=np.float64)
        cur = np.asarray(feature.current_counts, dtype=np.float64)
        ref, cur = ref / max(ref.sum(), 1.0), cur / max(cur.sum(), 1.0)
        if feature.kind == "numeric":
            edges = np.asarray(feature.plot_bins)
            axis.stairs(ref, edges, color="tab:blue", label="reference", fill=True, alpha=0.5)
            axis.stairs(cur, edges, color="tab:orange", label="current", linewidth=1.5)
        else:
            positions = np.arange(len(feature.plot_bins))
            axis.bar(positions - 0.2, ref, width=0.4, color="tab:blue", label="reference", alpha=0.8)
            axis.bar(positions + 0.2, cur, width=0.4, color="tab:orange", label="current", alpha=0.8)
            axis.set_xticks(positions, feature.plot_bins, fontsize=7)
        mark = "DRIFT" if feature.drifted else "ok"
        color = "tab:red" if feature.drifted else "black"
        # A fixed y skips placing the title around the tick labels; 4 bins halve the ticks, the costliest artists.
        axis.set_title(f"{feature.feature} [{mark}]", fontsize=9, color=color, y=1.0)
        axis.tick_params(labelsize=7)
        axis.locator_params(axis="both" if feature.kind == "numeric" else "y", nbins=4)
    for axis in list(axes.flat)[len(result.features) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    figure.subplots_adjust(
        left=0.45 / width,
        right=1 - 0.1 / width,
        top=1 - 0.3 / height,
        bottom=0.3 / height,
        wspace=0.22,
        hspace=0.35,
    )
    return _png(figure)


def _table(result: DriftResult) -> str:
    header = "".join(
        f"<th>{h}</th>" for h in ("feature", "kind", "test", "statistic", "p-value", "PSI", "JS distance", "drift")
    )
    rows = []
    for f in result.features:
        style = ' style="color:#b00;font-weight:bold"' if f.drifted else ""
        rows.append(
            f"<tr{style}><td>{html.escape(f.feature)}</td><td>{f.kind}</td><td>{f.test}</td>"
            f"<td>{f.statistic:.4g}</td><td>{f.p_value:.3g}</td><td>{f.psi:.4f}</td><td>{f.js_distance:.4f}</td>"
            f"<td>{'yes' if f.drifted else 'no'}</td></tr>"
        )
    return f"<table border=1 cellpadding=4 cellspacing=0><tr>{header}</tr>{''.join(rows)}</table>"


def drift_report_html(
    reference: pd.DataFrame, current: pd.DataFrame, result: DriftResult, title: str = "Data drift report"
) -> str:
    t = result.thresholds
    verdict = (
        f"<b style='color:#b00'>Drift in {len(result.drifted_features)} of {len(result.features)} features: "
        f"{html.escape(', '.join(result.drifted_features))}</b>"
        if result.drifted
        else "<b style='color:#070'>No drift detected.</b>"
    )
    rule = (
        f"A feature drifts when its test p-value &lt; {t.alpha} and (PSI &ge; {t.psi} or JS distance &ge; {t.js}). "
        f"Numeric PSI/JS use {t.bins} reference-quantile bins."
    )
    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h2>{html.escape(title)}</h2>"
        f"<p>reference: {len(reference)} rows; current: {len(current)} rows. {verdict}</p><p>{rule}</p>"
        f"{_table(result)}<h3>Scores per feature</h3>{scores_figure(result)}"
        f"<h3>Reference vs current</h3>{distributions_figure(result)}</body></html>"
    )
