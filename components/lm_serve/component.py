from kfp import dsl
from kfp.dsl import Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def lm_serve_check(
    registered: Input[Model],
    served: Output[Metrics],
    model_name: str = "charlm",
    endpoint_url: str = "",
    endpoint_api_key_env: str = "LABKIT_GENAI_API_KEY",
    endpoint_model: str = "",
    max_tokens: int = 32,
):
    """Serve the registered model with the kit's OpenAI-compatible API on 127.0.0.1 and send it the task checks
    as chat completions; with ``endpoint_url``, send the same requests to that endpoint instead.

    The key is read from the environment variable named ``endpoint_api_key_env`` (on a cluster, a Kubernetes
    Secret mounted as that variable), never passed as a value: the executor logs every parameter value it gets.
    """
    import os
    from pathlib import Path

    from components.common.metadata import log_metrics
    from components.lm_serve.logic import check_served

    key = os.environ.get(endpoint_api_key_env, "") if endpoint_url else ""
    result = check_served(Path(registered.path), model_name, endpoint_url, key, endpoint_model, max_tokens)
    values = {
        "task_checks_passed": result.task_checks_passed,
        "task_checks_total": result.task_checks_total,
        "guardrail_hits": result.guardrail_hits,
        "completion_tokens": result.completion_tokens,
        "seconds": result.seconds,
        "tokens_per_second": round(result.completion_tokens / max(result.seconds, 1e-9), 1),
    }
    log_metrics(served, values, {"endpoint": endpoint_url or "the registered model on 127.0.0.1"})
    print(
        f"{served.metadata['endpoint']} answered {result.task_checks_total} chat completions: "
        f"task checks {result.task_checks_passed}/{result.task_checks_total}, guardrail hits {result.guardrail_hits}, "
        f"{result.completion_tokens} tokens in {result.seconds:.2f} s"
    )
