from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def detect_drift(
    reference: Input[Dataset],
    current: Input[Dataset],
    report: Output[HTML],
    scores: Output[Artifact],
    metrics: Output[Metrics],
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    js_threshold: float = 0.1,
    force_retrain: bool = False,
) -> bool:
    """Per-feature drift of the current batch against the reference (KS / chi-square, PSI, JS distance).

    Returns whether to retrain: drift was found, or ``force_retrain`` (used once to train the first champion).
    The real verdict is in the metrics as ``drifted`` either way.
    """
    import json
    from pathlib import Path

    import pandas as pd

    from components.common.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from components.drift.logic import DriftThresholds, detect_drift
    from components.drift.report import drift_report_html

    reference_table, current_table = pd.read_csv(reference.path), pd.read_csv(current.path)
    thresholds = DriftThresholds(alpha=alpha, psi=psi_threshold, js=js_threshold)
    result = detect_drift(reference_table, current_table, NUMERIC_FEATURES, list(CATEGORICAL_FEATURES), thresholds)
    Path(report.path).write_text(drift_report_html(reference_table, current_table, result))
    Path(scores.path).write_text(json.dumps(result.as_dict(), indent=2))
    metrics.log_metric("drifted", result.drifted)
    metrics.log_metric("drifted_features", len(result.drifted_features))
    metrics.log_metric("share_drifted", round(result.share_drifted, 4))
    for feature in result.features:
        metrics.log_metric(f"psi_{feature.feature}", round(feature.psi, 4))
    verdict = f"drift in {', '.join(result.drifted_features)}" if result.drifted else "no drift"
    print(f"{verdict} ({len(current_table)} current rows vs {len(reference_table)} reference rows)")
    return result.drifted or force_retrain
