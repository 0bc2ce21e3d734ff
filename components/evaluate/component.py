from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def evaluate(
    train_data: Input[Dataset],
    test_data: Input[Dataset],
    model: Input[Model],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
    accuracy_threshold: float = 0.9,
) -> bool:
    """Accuracy and macro-F1 on the test split against a majority-class baseline.

    Returns whether the model beats the baseline and reaches the threshold: the pipeline's gate. It is a
    single output because kfp.local 2.17 cannot resolve named outputs inside dsl.If conditions.
    """
    import json

    import pandas as pd

    from components.evaluate.logic import evaluate_model_dir

    result = evaluate_model_dir(
        model.path, pd.read_csv(train_data.path), pd.read_csv(test_data.path), accuracy_threshold
    )
    for name in ("accuracy", "macro_f1", "baseline_accuracy", "baseline_macro_f1", "threshold"):
        metrics.log_metric(name, round(getattr(result, name), 4))
    metrics.log_metric("beats_baseline", result.beats_baseline)
    metrics.log_metric("passed", result.passed)
    confusion.log_confusion_matrix(result.classes, result.confusion_matrix)
    # On a cluster the metadata lives in ML Metadata; the file is what the object store (and labkit) can read.
    with open(metrics.path, "w") as handle:
        json.dump(metrics.metadata, handle)
    verdict = "PASSED" if result.passed else "did NOT pass"
    print(
        f"accuracy {result.accuracy:.3f} (baseline {result.baseline_accuracy:.3f}), "
        f"macro-F1 {result.macro_f1:.3f}: {verdict} the gate (threshold {accuracy_threshold})"
    )
    return result.passed
