"""Trainer's module file: a small Keras (tf-keras) classifier over the transformed features.

The saved model carries two signatures: ``serving_default`` takes raw tf.Examples (as a client would send
them) and applies the transform graph before the model; ``transform_features`` applies only the transform,
which is how the Evaluator gets the integer label it compares predictions with.
"""

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from components.common.schema import CATEGORICAL_FEATURES, CLASSES, LABEL, NUMERIC_FEATURES

BATCH_SIZE = 32


def xf(name: str) -> str:
    return f"{name}_xf"


def _dataset(files: list[str], data_accessor: DataAccessor, tf_transform_output, seed: int):
    return data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(batch_size=BATCH_SIZE, label_key=xf(LABEL), shuffle_seed=seed),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def build_model(learning_rate: float) -> tf.keras.Model:
    inputs = [tf.keras.layers.Input(shape=(1,), name=xf(name)) for name in NUMERIC_FEATURES]
    inputs += [
        tf.keras.layers.Input(shape=(len(values) + 1,), name=xf(name)) for name, values in CATEGORICAL_FEATURES.items()
    ]
    hidden = tf.keras.layers.Dense(16, activation="relu")(tf.keras.layers.concatenate(inputs))
    outputs = tf.keras.layers.Dense(len(CLASSES), activation="softmax")(hidden)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def _signatures(model: tf.keras.Model, tf_transform_output) -> dict:
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    serving_spec = {name: spec for name, spec in raw_spec.items() if name != LABEL}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized):
        transformed = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        transformed.pop(xf(LABEL), None)
        return {"outputs": model(transformed)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    return {"serving_default": serve, "transform_features": transform_features}


def run_fn(fn_args: FnArgs) -> None:
    seed = int(fn_args.custom_config.get("seed", 42))
    tf.keras.utils.set_random_seed(seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, seed)
    evaluation = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, seed)
    model = build_model(float(fn_args.custom_config.get("learning_rate", 0.01)))
    model.fit(
        train,
        steps_per_epoch=fn_args.train_steps,
        validation_data=evaluation,
        validation_steps=fn_args.eval_steps,
        verbose=0,
    )
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=_signatures(model, tf_transform_output))
