"""Runs INSIDE a fresh TFX-image container: predict the class of held-out rows with a submission's SavedModel.

Executed as a script by the grader (``python -I tfx_score.py --model DIR --features CSV``), never imported.
The container has no network and gets only the model (read-only) and the held-out *features*: the labels stay
with the grader, which computes the metrics from the predictions printed here. A SavedModel is a TF graph, so
the container is as locked down as the one that ran the submission.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

MARKER = "LABKIT-PREDICTIONS "


def _example(row: dict[str, str], numeric: set[str]) -> bytes:
    import tensorflow as tf

    features = {}
    for name, value in row.items():
        if name in numeric:
            features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        else:
            features[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="a Trainer model folder (Format-Serving)")
    parser.add_argument("--features", required=True, help="CSV of raw features, no label column")
    parser.add_argument("--numeric", action="append", default=[], help="columns written as floats")
    ns = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    with open(ns.features, newline="") as stream:
        rows = list(csv.DictReader(stream))
    serialized = tf.constant([_example(row, set(ns.numeric)) for row in rows])
    serve = tf.saved_model.load(ns.model).signatures["serving_default"]
    outputs = serve(examples=serialized)
    scores = np.asarray(next(iter(outputs.values())))
    if scores.ndim != 2 or scores.shape[0] != len(rows):
        raise ValueError(f"the model returned shape {scores.shape} for {len(rows)} rows; expected (rows, classes)")
    print(MARKER + json.dumps(scores.argmax(axis=1).tolist()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
