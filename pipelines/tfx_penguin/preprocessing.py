"""Transform's module file: the feature engineering TFX applies identically in training and in serving.

Analyzers (``tft.scale_to_z_score``, ``tft.compute_and_apply_vocabulary``) make one full pass over the train
split; their results (means, variances, vocabularies) become constants of the transform graph that the
Trainer attaches to the saved model.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.common.schema import CATEGORICAL_FEATURES, CLASSES, LABEL, NUMERIC_FEATURES


def xf(name: str) -> str:
    """Name of a transformed feature; raw and transformed features never share a name."""
    return f"{name}_xf"


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    outputs = {}
    for name in NUMERIC_FEATURES:
        outputs[xf(name)] = tft.scale_to_z_score(tf.reshape(tf.cast(inputs[name], tf.float32), [-1, 1]))
    for name, values in CATEGORICAL_FEATURES.items():
        # One spare bucket: a value never seen in training (ExampleValidator flags it) still gets an index.
        index = tft.compute_and_apply_vocabulary(tf.reshape(inputs[name], [-1]), num_oov_buckets=1, vocab_filename=name)
        outputs[xf(name)] = tf.one_hot(index, depth=len(values) + 1)
    # The label as the index of the species in the kit's fixed class order, so indices never depend on the data.
    species = tf.reshape(inputs[LABEL], [-1, 1])
    matches = tf.cast(tf.equal(species, tf.constant(CLASSES)), tf.int64)
    outputs[xf(LABEL)] = tf.argmax(matches, axis=1)[:, tf.newaxis]
    return outputs
