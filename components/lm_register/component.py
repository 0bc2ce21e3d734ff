from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def lm_compare(
    challenger: Input[Model],
    corpus: Input[Dataset],
    registry: str,
    comparison: Output[Metrics],
    model_name: str = "charlm",
) -> bool:
    """Challenger vs the registry's champion, both scored on this run's test text; True if it is better."""
    from pathlib import Path

    from components.common.metadata import log_metrics
    from components.lm_register.logic import compare_with_champion
    from components.text_corpus.logic import load_split

    result = compare_with_champion(
        Path(challenger.path), load_split(Path(corpus.path), "test"), Path(registry), model_name
    )
    values = {key: value for key, value in result.as_dict().items() if key != "reason"}
    log_metrics(comparison, values, {"reason": result.reason})
    print(result.reason)
    return result.better


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def lm_register(
    model: Input[Model],
    evaluation: Input[Metrics],
    registry: str,
    registered: Output[Model],
    model_name: str = "charlm",
    temperature: float = 0.7,
    max_tokens: int = 200,
    seed: int = 42,
):
    """Store the model as the next version with its prompt template and generation settings; make it champion."""
    import shutil
    from pathlib import Path

    from components.common.metadata import metric_values
    from components.lm_register.logic import PROMPT_TEMPLATE, GenerationSettings, model_root, register

    settings = GenerationSettings(PROMPT_TEMPLATE, temperature, max_tokens, seed)
    version = register(Path(registry), Path(model.path), metric_values(evaluation.metadata), settings, model_name)
    shutil.copytree(model_root(Path(registry), model_name) / version, registered.path, dirs_exist_ok=True)
    registered.metadata.update({"version": version, "registry": registry, "model_name": model_name})
    print(
        f"registered {model_name} {version} in {registry} (champion); "
        f"serve it with: labkit serve genai --registry {registry}"
    )
