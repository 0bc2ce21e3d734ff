"""A self-contained HTML drift report: score table, scores per feature, reference vs current (inline PNGs)."""

from __future__ import annotations

import html
import io

import numpy as np
import pandas as pd

from components.drift.logic import DriftResult


def _png(figure) -> str:
    """The figure as an inline PNG <img>: rasterising is several times faster than SVG for many panels."""
    import base64

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return f"<img alt='drift plot' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scores_figure(result: DriftResult) -> str:
    plt = _pyplot()
    names = [f.feature for f in result.features]
    colors = ["tab:red" if f.drifted else "tab:green" for f in result.features]
    figure, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.4))
    axes[0].barh(names, [f.psi for f in result.features], color=colors)
    axes[0].axvline(result.thresholds.psi, color="black", linestyle="--", linewidth=1)
    axes[0].set(title="PSI (dashed: threshold)", xlabel="PSI")
    axes[1].barh(names, [f.js_distance for f in result.features], color=colors)
    axes[1].axvline(result.thresholds.js, color="black", linestyle="--", linewidth=1)
    axes[1].set(title="Jensen-Shannon distance", xlabel="distance (base 2)")
    axes[1].set_yticklabels([])
    for axis in axes:
        axis.invert_yaxis()
    figure.tight_layout()
    return _png(figure)


def distributions_figure(result: DriftResult) -> str:
    """One panel per feature: reference vs current density (numeric) or category shares (categorical)."""
    plt = _pyplot()
    columns = 4
    rows = -(-len(result.features) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.5 * rows), squeeze=False)
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
        axis.set_title(f"{feature.feature} [{mark}]", fontsize=9, color="tab:red" if feature.drifted else "black")
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(result.features) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
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
