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

    import pandas as pd

    from components.common.metadata import log_metrics
    from components.evaluate.logic import evaluate_model_dir

    result = evaluate_model_dir(
        model.path, pd.read_csv(train_data.path), pd.read_csv(test_data.path), accuracy_threshold
    )
    names = ("accuracy", "macro_f1", "baseline_accuracy", "baseline_macro_f1", "threshold", "beats_baseline", "passed")
    log_metrics(metrics, {name: getattr(result, name) for name in names})
    confusion.log_confusion_matrix(result.classes, result.confusion_matrix)
    verdict = "PASSED" if result.passed else "did NOT pass"
    print(
        f"accuracy {result.accuracy:.3f} (baseline {result.baseline_accuracy:.3f}), "
        f"macro-F1 {result.macro_f1:.3f}: {verdict} the gate (threshold {accuracy_threshold})"
    )
    return result.passed
