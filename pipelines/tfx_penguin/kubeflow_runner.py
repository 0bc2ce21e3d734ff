"""Compile the session-6 pipeline to a KFP PipelineSpec YAML with TFX's KubeflowV2DagRunner.

    python -m pipelines.tfx_penguin.kubeflow_runner --out build/pipelines/tfx-penguin.yaml

Every step runs in the kit's TFX image, which holds the module files and the prepared data under
/opt/labkit: on the cluster, TFX 1.21's file I/O has no S3 filesystem, so nothing a step reads may live
only in the object store. The open-source KFP 2.17 backend takes a bare PipelineSpec (not the PipelineJob
wrapper TFX writes) and runs no Resolver node, so this writes the former and the pipeline has no Resolver.
"""

import argparse
import json
import os
import tempfile
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
    """The PipelineSpec as a dict: TFX writes a PipelineJob JSON; its ``pipelineSpec`` is what KFP accepts."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

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
    with tempfile.TemporaryDirectory() as tmp:
        runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=TFX_IMAGE),
            output_dir=tmp,
            output_filename="pipeline.json",
        )
        runner.run(pipeline, write_out=True)
        written = json.loads((Path(tmp) / "pipeline.json").read_text())
    return importers_for_kfp2(written.get("pipelineSpec", written))


def importers_for_kfp2(spec: dict[str, Any]) -> dict[str, Any]:
    """TFX writes an Importer's URI in the deprecated ``artifactUri.constantValue`` field; the KFP 2 backend's
    importer launcher reads only ``artifactUri.constant`` (or a runtime parameter). Move it across."""
    for executor in spec.get("deploymentSpec", {}).get("executors", {}).values():
        uri = executor.get("importer", {}).get("artifactUri", {})
        if "constantValue" in uri:
            uri["constant"] = uri.pop("constantValue")["stringValue"]
    return spec


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
