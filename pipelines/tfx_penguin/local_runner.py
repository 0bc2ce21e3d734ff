"""Run the session-6 pipeline with TFX's LocalDagRunner (inside the TFX image; see `labkit pipeline run`).

    python -m pipelines.tfx_penguin.local_runner --run-dir /labkit/run [--param train_steps=100]

The run folder holds data/ (train/ and eval/ CSVs), and receives pipeline_root/, metadata.sqlite and serving/.
"""

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.common.images import TFX_IMAGE
from pipelines.tfx_penguin.pipeline import create_pipeline

HERE = Path(__file__).resolve().parent
# Beam's default DirectRunner mode starts worker processes per stage; on a 333-row table start-up dominates.
# Naming the SDK image tells TFX the workers already have TFX; otherwise every Beam-based component first
# builds an sdist of the whole tfx package to ship to workers, which the in-memory runner never uses.
BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1", f"--sdk_container_image={TFX_IMAGE}"]


def run(run_dir: Path, params: dict[str, Any], create: Callable[..., Any] = create_pipeline) -> None:
    """Run the pipeline ``create`` builds (the kit's, or a student's version of it) on the data in ``run_dir``."""
    from absl import logging
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    # INFO carries LocalDagRunner's "Component X is running/finished" lines, which the kit turns into progress.
    logging.set_verbosity(logging.INFO)
    # Use the module files in place instead of packaging them as a wheel into the pipeline root (slower, and
    # it needs setuptools in the image).
    os.environ.setdefault("UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES", "1")
    pipeline = create(
        pipeline_root=str(run_dir / "pipeline_root"),
        data_root=str(run_dir / "data"),
        preprocessing_module=str(HERE / "preprocessing.py"),
        trainer_module=str(HERE / "trainer.py"),
        serving_model_dir=str(run_dir / "serving"),
        metadata_path=str(run_dir / "metadata.sqlite"),
        beam_pipeline_args=BEAM_ARGS,
        **params,
    )
    # Saved before running, so that the run page can draw a run that fails half-way (labkit.dag reads it).
    (run_dir / "graph.json").write_text(json.dumps(pipeline_graph(pipeline)))
    LocalDagRunner().run(pipeline)


def pipeline_graph(pipeline: Any) -> dict[str, list[Any]]:
    """The components and, for each input, which component's output feeds it: ``[producer, consumer, input]``."""
    edges = []
    for component in pipeline.components:
        fed = set()
        for name, channel in component.inputs.items():
            producer = getattr(channel, "producer_component_id", None)
            if producer:
                edges.append([producer, component.id, name])
                fed.add(producer)
        edges += [[node.id, component.id, ""] for node in component.upstream_nodes if node.id not in fed]
    return {"nodes": [component.id for component in pipeline.components], "edges": edges}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--params-json", default="{}", help="keyword parameters of create_pipeline, as JSON")
    args = parser.parse_args()
    run(args.run_dir, json.loads(args.params_json))


if __name__ == "__main__":
    main()
