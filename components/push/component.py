from kfp import dsl
from kfp.dsl import Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def push(model: Input[Model], metrics: Input[Metrics], pushed_model: Output[Model]):
    """Publish a model that passed the evaluation gate, with the metrics that earned it the push."""
    import shutil

    from components.common.metadata import metric_values

    shutil.copytree(model.path, pushed_model.path, dirs_exist_ok=True)
    pushed_model.metadata.update({"blessed": True, **metric_values(metrics.metadata)})
    print(f"pushed model to {pushed_model.uri}")
