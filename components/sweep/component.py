from kfp import dsl
from kfp.dsl import Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def pick_best(
    models: Input[list[Model]],
    scores: Input[list[Metrics]],
    best_model: Output[Model],
    summary: Output[Metrics],
):
    """Keep the candidate with the best test accuracy (macro-F1 breaks ties) from a dsl.ParallelFor sweep."""
    import shutil

    from components.sweep.logic import best_candidate

    table = [dict(s.metadata) for s in scores]
    best = best_candidate(table)
    shutil.copytree(models[best].path, best_model.path, dirs_exist_ok=True)
    best_model.metadata.update(models[best].metadata)
    for key in ("accuracy", "macro_f1", "baseline_accuracy"):
        summary.log_metric(key, table[best][key])
    summary.log_metric("candidates", len(table))
    summary.log_metric("best_index", best)
    for index, row in enumerate(table):
        print(f"candidate {index}: accuracy {row['accuracy']:.3f} macro-F1 {row['macro_f1']:.3f}")
    print(f"best: candidate {best}")
