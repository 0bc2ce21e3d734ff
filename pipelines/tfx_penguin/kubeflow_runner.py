"""Compile the session-6 pipeline to a KFP PipelineSpec YAML with TFX's KubeflowV2DagRunner.

    python -m pipelines.tfx_penguin.kubeflow_runner --out build/pipelines/tfx-penguin.yaml

Every step runs in the kit's TFX image, which holds the module files and the prepared data under
/opt/labkit: on the cluster, TFX 1.21's file I/O has no S3 filesystem, so nothing a step reads may live
only in the object store (what artifacts the steps pass each other, the KFP launcher copies between the object
store and local paths: components/tfx_kfp/entrypoint.py points TFX at those). The open-source KFP 2.17 backend
takes a bare PipelineSpec of schema 2.1.0 and runs no Resolver node: components/tfx_kfp/spec.py adapts what
TFX writes, and the pipeline has no Resolver.
"""

import argparse
import json
import os
from pathlib import Path
from typing import Any

import yaml

from components.common.images import TFX_IMAGE
from pipelines.tfx_penguin.local_runner import BEAM_ARGS
from pipelines.tfx_penguin.pipeline import create_pipeline

# Where the TFX image keeps the kit's code and data (the local runner mounts the checkout at the same place).
IMAGE_ROOT = "/opt/labkit"
MODULE_DIR = f"{IMAGE_ROOT}/pipelines/tfx_penguin"
DATA_ROOT = f"{IMAGE_ROOT}/data/tfx-penguin"
# KFP replaces the pipeline root at submission; TFX needs a value to compile.
PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"
SERVING_DIR = "/tmp/labkit/serving"


def pipeline_spec(params: dict[str, Any]) -> dict[str, Any]:
    """The PipelineSpec as a dict, in the form the open-source KFP 2.17 backend accepts and runs.

    components/tfx_kfp/spec.py compiles with KubeflowV2DagRunner (schema-2.1 mode) and adapts the result: each
    change there cites the backend code it satisfies. Its steps run ``components.tfx_kfp.entrypoint``, which maps
    artifact URIs to the launcher's local paths before TFX sees them.
    """
    from components.tfx_kfp.spec import compile_for_kfp

    os.environ.setdefault("UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES", "1")
    pipeline = create_pipeline(
        pipeline_root=PIPELINE_ROOT,
        data_root=DATA_ROOT,
        preprocessing_module=f"{MODULE_DIR}/preprocessing.py",
        trainer_module=f"{MODULE_DIR}/trainer.py",
        serving_model_dir=SERVING_DIR,
        beam_pipeline_args=BEAM_ARGS,
        **params,
    )
    return compile_for_kfp(pipeline, TFX_IMAGE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="PipelineSpec YAML to write")
    parser.add_argument("--params-json", default="{}", help="keyword parameters of create_pipeline, as JSON")
    args = parser.parse_args()
    spec = pipeline_spec(json.loads(args.params_json))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.safe_dump(spec, sort_keys=True))


if __name__ == "__main__":
    main()
