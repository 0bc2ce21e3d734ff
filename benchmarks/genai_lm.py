"""Session 8's character GRU against its n-gram baseline, side by side: training time and test perplexity.

    .venv/bin/python -m benchmarks.genai_lm --json benchmarks/results/genai_lm.json

On the kit's corpus (its Spanish guides, split by paragraph with the pipeline's seed), in one process:

    GRU       ``train_char_lm`` at the genai pipeline's defaults (epochs, seq_len, units, learning rate, seed,
              read from pipelines/genai/pipeline.py), timed around training only (TensorFlow's import is timed
              apart); its test perplexity with the numpy inference that evaluation and serving use
    n-gram    ``fit_baseline`` over orders 2..5 (order and Kneser-Ney discount picked on the validation split,
              3 discounts x 4 orders), timed around the whole selection; and each order alone with its own fit
              time and test perplexity (order 3 is the pipeline's gate)
    sweep     the GRU trained for each of --epochs (default 2, 6 and the pipeline's 12): perplexity against
              training time; the most epochs is the GRU compared above

Printed: each side's seconds and test perplexity, and the ratios GRU / n-gram (perplexity below 1: the GRU is
better; time: how many times longer training takes than counting n-grams).
A quick check: --epochs 1 --units 8 --seq-len 16 --train-chars 3000.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.common import Recording, benchmark_parser

NGRAM_ORDERS = (2, 3, 4, 5)
SWEEP_EPOCHS = (2, 6)  # besides the pipeline's default epochs


def pipeline_defaults() -> dict[str, Any]:
    """The genai pipeline's parameter defaults, so that the benchmark follows the pipeline when they change."""
    from pipelines.genai.pipeline import genai_pipeline

    return {name: spec.default for name, spec in genai_pipeline.component_spec.inputs.items()}


def measure_ngrams(train_ids: Any, validation_ids: Any, test_ids: Any, vocab_size: int) -> dict[str, Any]:
    from components.lm_evaluate.logic import fit_baseline, perplexity

    start = time.perf_counter()
    chosen = fit_baseline(train_ids, validation_ids, vocab_size, orders=NGRAM_ORDERS)
    seconds = time.perf_counter() - start
    orders = {}
    for order in NGRAM_ORDERS:
        start = time.perf_counter()
        alone = fit_baseline(train_ids, validation_ids, vocab_size, orders=(order,))
        fit_seconds = time.perf_counter() - start
        orders[str(order)] = {
            "discount": alone.discount,
            "fit_seconds": fit_seconds,
            "validation_perplexity": alone.validation_perplexity,
            "test_perplexity": perplexity(alone.model.sequence_log_probs(test_ids)),
        }
    return {
        "orders_searched": list(NGRAM_ORDERS),
        "order": chosen.order,
        "discount": chosen.discount,
        "fit_seconds": seconds,
        "validation_perplexity": chosen.validation_perplexity,
        "test_perplexity": perplexity(chosen.model.sequence_log_probs(test_ids)),
        "per_order": orders,
    }


def measure_gru(train: str, validation: str, test: str, epochs: int, settings: dict[str, Any]) -> dict[str, Any]:
    from components.lm_train.logic import train_char_lm

    start = time.perf_counter()
    _, charlm, history = train_char_lm(train, validation, epochs=epochs, **settings)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    test_perplexity = charlm.perplexity(test)
    return {
        "epochs": epochs,
        "train_seconds": seconds,
        "best_epoch": charlm.config["best_epoch"],
        "val_loss": history["val_loss"],
        "test_perplexity": test_perplexity,
        "score_test_seconds": time.perf_counter() - start,
    }


def main() -> None:
    recording = Recording(__spec__.name)
    parser = benchmark_parser(__doc__)
    parser.add_argument("--epochs", type=int, nargs="+", help="epochs of the sweep [default: 2 6 and the pipeline's]")
    parser.add_argument("--units", type=int, help="GRU units [default: the pipeline's]")
    parser.add_argument("--seq-len", type=int, help="training window in characters [default: the pipeline's]")
    parser.add_argument(
        "--train-chars", type=int, default=0, help="train on the first N characters only (0: all, the default)"
    )
    args = parser.parse_args()
    defaults = pipeline_defaults()
    epochs_swept = sorted(set(args.epochs or [*SWEEP_EPOCHS, defaults["epochs"]]))
    if epochs_swept[0] < 1:
        parser.error("--epochs must be at least 1")
    settings = {
        "seq_len": args.seq_len or defaults["seq_len"],
        "units": args.units or defaults["units"],
        "learning_rate": defaults["learning_rate"],
        "seed": defaults["seed"],
    }

    from components.lm_train.charlm import CharLM, build_vocab
    from components.text_corpus.logic import build_corpus

    corpus = build_corpus(defaults["corpus"], seed=defaults["seed"])
    train = corpus.train[: args.train_chars] if args.train_chars else corpus.train
    # The pipeline's encoding: the training text's characters, anything else "unknown" (what the GRU sees too).
    encoder = CharLM(tuple(build_vocab(train)), {}, {"lowercase": True})
    ids = {name: encoder.encode(text) for name, text in (("train", train), ("validation", corpus.validation))}
    test_ids = encoder.encode(corpus.test)
    print(
        f"corpus: {len(train):,} training, {len(corpus.validation):,} validation, {len(corpus.test):,} test "
        f"characters; {len(encoder.vocab)} symbols"
    )

    ngram = measure_ngrams(ids["train"], ids["validation"], test_ids, len(encoder.vocab))
    print(
        f"\nn-gram, orders {NGRAM_ORDERS[0]}..{NGRAM_ORDERS[-1]} x 3 discounts picked on validation: "
        f"order {ngram['order']} D={ngram['discount']}, fit {ngram['fit_seconds']:.3f} s, "
        f"test perplexity {ngram['test_perplexity']:.3f}"
    )
    for order, figures in ngram["per_order"].items():
        gate = "  (the pipeline's gate)" if int(order) == defaults["ngram_order"] else ""
        print(
            f"  order {order}: fit {figures['fit_seconds']:.3f} s, test perplexity {figures['test_perplexity']:.3f}"
            f"{gate}"
        )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    import keras  # noqa: F401  (timed here so that no training time below includes it)
    import tensorflow  # noqa: F401

    import_seconds = time.perf_counter() - start
    print(f"\nGRU ({settings['units']} units, seq_len {settings['seq_len']}); TensorFlow import {import_seconds:.1f} s")
    sweep = []
    for epochs in epochs_swept:
        sweep.append(measure_gru(train, corpus.validation, corpus.test, epochs, settings))
        run = sweep[-1]
        print(
            f"  {epochs:3d} epochs: train {run['train_seconds']:7.1f} s, best epoch {run['best_epoch']:3d}, "
            f"test perplexity {run['test_perplexity']:.3f} (numpy scoring {run['score_test_seconds']:.2f} s)"
        )
    gru = sweep[-1]
    gate_order = str(defaults["ngram_order"])
    ratios = {
        "perplexity_gru_to_ngram": gru["test_perplexity"] / ngram["test_perplexity"],
        "perplexity_gru_to_gate_ngram": gru["test_perplexity"] / ngram["per_order"][gate_order]["test_perplexity"],
        "train_seconds_gru_to_ngram": gru["train_seconds"] / ngram["fit_seconds"],
    }
    at_defaults = gru["epochs"] == defaults["epochs"] and all(settings[k] == defaults[k] for k in settings)
    print(f"\n== GRU ({gru['epochs']} epochs) / n-gram (order {ngram['order']})")
    print(f"  test perplexity {gru['test_perplexity']:.3f} / {ngram['test_perplexity']:.3f}: ", end="")
    print(f"ratio {ratios['perplexity_gru_to_ngram']:.3f}")
    print(f"  vs the gate's order-{gate_order} n-gram: ratio {ratios['perplexity_gru_to_gate_ngram']:.3f}")
    print(
        f"  training {gru['train_seconds']:.1f} s / {ngram['fit_seconds']:.3f} s: "
        f"ratio {ratios['train_seconds_gru_to_ngram']:,.0f}"
    )
    if not at_defaults:
        print("  (not the pipeline's default settings)")
    recording.write(
        args.json,
        {
            "pipeline_defaults": {k: defaults[k] for k in ("epochs", "seq_len", "units", "learning_rate", "seed")},
            "gru_settings": settings,
            "at_pipeline_defaults": at_defaults,
            "corpus_characters": {"train": len(train), "validation": len(corpus.validation), "test": len(corpus.test)},
            "vocab_size": len(encoder.vocab),
            "ngram": ngram,
            "tensorflow_import_seconds": import_seconds,
            "gru": gru,
            "sweep": sweep,
            "ratios": ratios,
        },
    )


if __name__ == "__main__":
    main()
