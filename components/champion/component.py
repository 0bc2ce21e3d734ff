from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def compare_models(
    challenger: Input[Model],
    train_data: Input[Dataset],
    test_data: Input[Dataset],
    registry: str,
    metrics: Output[Metrics],
    model_name: str = "penguins",
    min_improvement: float = 0.0,
) -> bool:
    """Challenger vs the registry's champion vs the majority baseline, on the same test rows.

    Returns whether the challenger should be pushed (a single bool: kfp.local 2.17 conditions need one).
    """
    from pathlib import Path

    import pandas as pd

    from components.champion.logic import champion_dir, champion_version, compare
    from components.common.metadata import log_metrics

    current = champion_dir(Path(registry), model_name)
    result = compare(
        Path(challenger.path),
        current,
        champion_version(Path(registry), model_name),
        pd.read_csv(train_data.path),
        pd.read_csv(test_data.path),
        min_improvement,
    )
    values = {key: value for key, value in result.as_dict().items() if key != "reason"}
    log_metrics(metrics, values, {"reason": result.reason})
    print(result.reason)
    return result.better


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def register_model(
    model: Input[Model],
    comparison: Input[Metrics],
    registry: str,
    registered: Output[Model],
    model_name: str = "penguins",
):
    """Store the model as the next version in the registry (with a SavedModel export) and make it champion."""
    import shutil
    from pathlib import Path

    from components.champion.logic import model_root, register
    from components.common.metadata import metric_values

    version = register(
        Path(registry), Path(model.path), metric_values(comparison.metadata), promote=True, name=model_name
    )
    shutil.copytree(model_root(Path(registry), model_name) / version, registered.path, dirs_exist_ok=True)
    registered.metadata.update({"version": version, "registry": registry, "model_name": model_name})
    print(f"registered {model_name} {version} in {registry} and promoted it to champion")
