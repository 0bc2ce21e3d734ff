"""Data-parallel training with ``tf.distribute.MultiWorkerMirroredStrategy`` on worker processes of this machine.

``train_multiworker`` starts ``workers`` Python processes on 127.0.0.1, each with its own ``TF_CONFIG`` (the
cluster's worker addresses on free ports chosen at run time, and the process's index). Every worker builds the
same model inside the strategy scope and reads its shard of the data; gradients are all-reduced each step, so
the workers finish with identical weights. Worker 0 (the chief) writes the model folder, in the same layout as
the ``train`` component (so evaluate, champion and serving code read it unchanged).

With one worker the same code runs with the same strategy, which makes a 1-vs-2 comparison fair.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class DistributedRun:
    workers: int
    wall_seconds: float  # start of the first process to exit of the last, TF start-up included
    fit_seconds: float  # the chief's model.fit only
    final_accuracy: float
    model_dir: str


class DistributedTrainingError(RuntimeError):
    pass


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free now; held open together so they are distinct."""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for handle in sockets:
            handle.close()


def tf_config(addresses: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


def _worker(spec: dict) -> None:
    """Body of one worker process (run as ``python -m components.train.distributed SPEC_JSON``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from components.common.features import encode_features, encode_labels, fit_preprocessing
    from components.train.logic import build_model, save_model_dir

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG; blocks until all workers join
    keras.utils.set_random_seed(spec["seed"])
    train = pd.read_csv(spec["train_csv"])
    preprocessing = fit_preprocessing(train)
    features, labels = encode_features(train, preprocessing), encode_labels(train, preprocessing)
    global_batch = spec["batch_size"] * strategy.num_replicas_in_sync
    dataset = (
        tf.data.Dataset.from_tensor_slices((features, labels))
        .shuffle(len(features), seed=spec["seed"], reshuffle_each_iteration=True)
        .batch(global_batch)
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    with strategy.scope():
        model = build_model(
            features.shape[1], len(preprocessing["classes"]), spec["hidden_units"], spec["learning_rate"]
        )
        optimizer = model.optimizer
        per_example_loss = keras.losses.SparseCategoricalCrossentropy(reduction="none")
    # Keras 3's model.fit cannot consume a multi-worker distributed dataset (it fails converting PerReplica
    # values), so the loop is written out: each replica computes its gradients, apply_gradients all-reduces them.
    distributed = strategy.experimental_distribute_dataset(dataset)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            probabilities = model(x, training=True)
            loss = tf.nn.compute_average_loss(per_example_loss(y, probabilities), global_batch_size=global_batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probabilities, axis=1), tf.cast(y, tf.int64)), tf.float32))
        return loss, correct

    @tf.function
    def train_step(x, y):
        loss, correct = strategy.run(replica_step, args=(x, y))
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None),
        )

    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    start = time.perf_counter()
    for _ in range(spec["epochs"]):
        total_loss, total_correct, steps = 0.0, 0.0, 0
        for x, y in distributed:
            loss, correct = train_step(x, y)
            total_loss, total_correct, steps = total_loss + float(loss), total_correct + float(correct), steps + 1
        history["loss"].append(total_loss / max(steps, 1))
        history["accuracy"].append(total_correct / len(features))
    fit_seconds = time.perf_counter() - start
    chief = spec["index"] == 0
    # Every worker saves (saving may take part in collectives); only the chief's copy is kept.
    target = Path(spec["model_dir"]) if chief else Path(tempfile.mkdtemp(prefix="labkit-worker-"))
    save_model_dir(model, preprocessing, history, target)
    if chief:
        (target / "distributed.json").write_text(
            json.dumps({"workers": spec["workers"], "fit_seconds": fit_seconds, "global_batch": global_batch})
        )


def train_multiworker(
    train_csv: Path,
    model_dir: Path,
    workers: int = 2,
    epochs: int = 10,
    learning_rate: float = 0.01,
    seed: int = 42,
    hidden_units: int = 16,
    batch_size: int = 32,
    timeout: float = 600.0,
) -> DistributedRun:
    """Train with ``workers`` local processes; ``batch_size`` is per worker (the global batch grows with it)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    spec = {
        "train_csv": str(train_csv),
        "model_dir": str(model_dir),
        "workers": workers,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "seed": seed,
        "hidden_units": hidden_units,
        "batch_size": batch_size,
    }
    repo_root = Path(__file__).resolve().parents[2]
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        processes, logs = [], []
        for index in range(workers):
            env = {
                **os.environ,
                "TF_CONFIG": tf_config(addresses, index),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
            }
            log = stack.enter_context(tempfile.TemporaryFile(mode="w+"))
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "components.train.distributed", json.dumps({**spec, "index": index})],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            codes = [p.wait(timeout=timeout) for p in processes]
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise DistributedTrainingError(f"workers did not finish in {timeout} s (addresses {addresses})") from None
        wall = time.perf_counter() - start
        failed = [i for i, code in enumerate(codes) if code != 0]
        if failed:
            logs[failed[0]].seek(0)
            lines = [line for line in logs[failed[0]].read().splitlines() if not line.startswith((" ", "["))]
            tail = "\n".join(lines)[-3000:]
            raise DistributedTrainingError(f"worker {failed[0]} exited with {codes[failed[0]]}:\n{tail}")
    details = json.loads((Path(model_dir) / "distributed.json").read_text())
    history = json.loads((Path(model_dir) / "history.json").read_text())
    return DistributedRun(
        workers, round(wall, 3), round(details["fit_seconds"], 3), history["accuracy"][-1], str(model_dir)
    )


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
