"""The kit's chat-completions server over HTTP against the same generation in process: tokens per second, latency.

    .venv/bin/python -m benchmarks.genai_serving --repeats 5 --json benchmarks/results/genai_serving.json

The model: a short real training (``train_char_lm`` at the genai pipeline's seq_len, units, learning rate and seed
for --train-epochs epochs: the network has the served shape, and epochs change its text, not its speed),
registered in a scratch registry with the pipeline's generation settings, as its lm_register step does; or
--registry PATH for a registry's champion. A quick check: --untrained (random weights, 8 units) --requests 4.

The server is ``python -m labkit serve genai --registry R --port 0`` in its own process on 127.0.0.1, as a student
starts it; the requests are the kit's client (``chat``, one HTTP connection per request) from 1 and from 2 client
threads in this process, --requests per side split between the clients. In process: the same requests through
the model's ``generate``, one after another. Every request is a task-check prompt with max_tokens --max-tokens,
the pipeline's temperature, a seed of its own and no stop string, so every answer is max_tokens characters long
and the HTTP answers must equal the in-process ones. Rounds (--repeats) alternate the three sides.

Printed per side: completion tokens per second (the usage counts over the side's wall time, median of rounds),
latency p50 and p95 (all rounds' requests), and the ratios in process / HTTP.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, Recording, benchmark_parser

CLIENTS = (1, 2)
IN_PROCESS = "in_process"


def http_side(clients: int) -> str:
    return f"http_{clients}_client{'s' if clients > 1 else ''}"


def build_registry(registry: Path, train_epochs: int, untrained: bool) -> dict[str, Any]:
    """One registered version (v0001, champion) of a model of the pipeline's shape; returns how it was made."""
    from benchmarks.genai_lm import pipeline_defaults
    from components.lm_register.logic import PROMPT_TEMPLATE, GenerationSettings, register
    from components.lm_train.charlm import untrained_charlm
    from components.text_corpus.logic import build_corpus

    defaults = pipeline_defaults()
    corpus = build_corpus(defaults["corpus"], seed=defaults["seed"])
    start = time.perf_counter()
    if untrained:
        charlm = untrained_charlm(corpus.train, seed=defaults["seed"])
    else:
        from components.lm_train.logic import train_char_lm

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _, charlm, _ = train_char_lm(
            corpus.train,
            corpus.validation,
            epochs=train_epochs,
            seq_len=defaults["seq_len"],
            units=defaults["units"],
            learning_rate=defaults["learning_rate"],
            seed=defaults["seed"],
        )
    seconds = time.perf_counter() - start
    model_dir = registry.parent / "model"
    charlm.save(model_dir)
    settings = GenerationSettings(PROMPT_TEMPLATE, defaults["temperature"], defaults["max_tokens"], defaults["seed"])
    test_perplexity = charlm.perplexity(corpus.test)
    register(registry, model_dir, {"perplexity": test_perplexity}, settings)
    return {
        "trained": not untrained,
        "train_epochs": None if untrained else train_epochs,
        "seconds_with_tensorflow_import": seconds,
        "test_perplexity": test_perplexity,
    }


def start_server(registry: Path) -> tuple[subprocess.Popen[str], str, float]:
    """`labkit serve genai` on a free port; returns the process, its base URL and its start-up seconds."""
    from components.lm_serve.logic import API_KEY_ENV

    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}  # an open server: no key in the way
    command = [sys.executable, "-m", "labkit", "serve", "genai", "--registry", str(registry), "--port", "0"]
    start = time.perf_counter()
    # Request log lines go to stderr: discarded, so that a full pipe never blocks the server.
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = process.stdout.readline() if process.stdout else ""
    if " at http://" not in line:
        process.kill()
        sys.exit(f"`{' '.join(command[1:])}` did not start (exit code {process.wait()}): {line!r}")
    return process, line.split(" at ", 1)[1].strip(), time.perf_counter() - start


def requests_for(count: int, max_tokens: int, temperature: float, seed: int) -> list[dict[str, Any]]:
    from components.lm_evaluate.logic import TASK_CHECKS

    prompts = [prompt for prompt, _ in TASK_CHECKS]
    return [
        {"prompt": prompts[i % len(prompts)], "max_tokens": max_tokens, "temperature": temperature, "seed": seed + i}
        for i in range(count)
    ]


def run_in_process(served: Any, requests: list[dict[str, Any]]) -> dict[str, Any]:
    latencies, texts, tokens = [], [], 0
    start = time.perf_counter()
    for request in requests:
        sent = time.perf_counter()
        generated = served.model.generate(
            request["prompt"], request["max_tokens"], temperature=request["temperature"], seed=request["seed"], stop=()
        )
        latencies.append(time.perf_counter() - sent)
        texts.append(generated.text)
        tokens += generated.completion_tokens
    return {"wall": time.perf_counter() - start, "latencies": latencies, "texts": texts, "tokens": tokens}


def run_http(url: str, requests: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """``clients`` threads, each sending its share of the requests one after another."""
    from components.lm_serve.logic import chat

    latencies: list[float] = [0.0] * len(requests)
    texts: list[str] = [""] * len(requests)
    tokens: list[int] = [0] * len(requests)
    errors: list[BaseException] = []

    def client(indexes: range) -> None:
        try:
            for i in indexes:
                request = requests[i]
                messages = [{"role": "user", "content": request["prompt"]}]
                sent = time.perf_counter()
                response = chat(
                    url,
                    None,
                    messages,
                    max_tokens=request["max_tokens"],
                    temperature=request["temperature"],
                    seed=request["seed"],
                    stop=[],
                )
                latencies[i] = time.perf_counter() - sent
                texts[i] = response["choices"][0]["message"]["content"]
                tokens[i] = response["usage"]["completion_tokens"]
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(range(c, len(requests), clients),)) for c in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return {"wall": wall, "latencies": latencies, "texts": texts, "tokens": sum(tokens)}


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    from labkit.genai_monitor import percentile

    latencies = [seconds for run in rounds for seconds in run["latencies"]]
    return {
        "tokens_per_second": statistics.median(run["tokens"] / run["wall"] for run in rounds),
        "tokens_per_second_rounds": [run["tokens"] / run["wall"] for run in rounds],
        "wall_seconds_rounds": [run["wall"] for run in rounds],
        "completion_tokens_per_round": rounds[0]["tokens"],
        "latency_p50_ms": 1000 * percentile(latencies, 50),
        "latency_p95_ms": 1000 * percentile(latencies, 95),
        "requests": len(latencies),
    }


def main() -> None:
    recording = Recording(__spec__.name)
    parser = benchmark_parser(__doc__)
    parser.add_argument("--requests", type=int, default=100, help="requests per side and round")
    parser.add_argument("--max-tokens", type=int, default=200, help="completion tokens per request")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each runs every side once")
    parser.add_argument("--train-epochs", type=int, default=2, help="epochs of the short training")
    parser.add_argument("--untrained", action="store_true", help="random weights instead of training (quick check)")
    parser.add_argument("--registry", type=Path, help="serve this registry's champion instead of building one")
    args = parser.parse_args()
    if args.requests < max(CLIENTS) or args.max_tokens < 1 or args.repeats < 1 or args.train_epochs < 1:
        parser.error(f"--requests must be at least {max(CLIENTS)}; --max-tokens, --repeats, --train-epochs >= 1")

    from components.lm_serve.logic import load_served_model

    with tempfile.TemporaryDirectory(prefix="labkit-genai-serving-") as scratch:
        registry = args.registry or Path(scratch) / "registry"
        made = None if args.registry else build_registry(registry, args.train_epochs, args.untrained)
        served = load_served_model(registry)
        model = {
            "model_id": served.model_id,
            "units": served.model.units,
            "vocab_size": len(served.model.vocab),
            "made_here": made,
        }
        how = "registry champion" if made is None else "trained" if made["trained"] else "untrained (random weights)"
        print(f"model {served.model_id}: {how}, {model['units']} GRU units, {model['vocab_size']} symbols")
        requests = requests_for(args.requests, args.max_tokens, served.settings.temperature, served.settings.seed)
        process, url, start_up = start_server(registry)
        try:
            print(f"server: {url} (`labkit serve genai` up in {start_up:.2f} s)")
            run_http(url, requests[:3], 1)  # warm-up: the server's first requests
            run_in_process(served, requests[:3])
            rounds: dict[str, list[dict[str, Any]]] = {IN_PROCESS: [], **{http_side(c): [] for c in CLIENTS}}
            for _ in range(args.repeats):
                rounds[IN_PROCESS].append(run_in_process(served, requests))
                for clients in CLIENTS:
                    rounds[http_side(clients)].append(run_http(url, requests, clients))
        finally:
            process.terminate()
            process.wait(timeout=10)

    expected = rounds[IN_PROCESS][0]["texts"]
    same_text = all(run["texts"] == expected for runs in rounds.values() for run in runs)
    if not same_text:
        sys.exit("the HTTP answers differ from the in-process generation with the same prompts and seeds")
    sides = {name: summarize(runs) for name, runs in rounds.items()}
    base = sides[IN_PROCESS]
    ratios = {
        name: {
            "tokens_per_second_in_process_to_http": base["tokens_per_second"] / side["tokens_per_second"],
            "latency_p50_http_to_in_process": side["latency_p50_ms"] / base["latency_p50_ms"],
        }
        for name, side in sides.items()
        if name != IN_PROCESS
    }
    print(
        f"\n{args.requests} requests per side and round x {args.repeats} round(s); {args.max_tokens} completion "
        f"tokens each; answers identical on every side: {same_text}"
    )
    print(f"{'side':18} {'tokens/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'in process/HTTP, tok/s':>23} {'p50 ratio':>10}")
    for name, side in sides.items():
        ratio = ratios.get(name)
        tail = (
            f"{ratio['tokens_per_second_in_process_to_http']:23.2f} {ratio['latency_p50_http_to_in_process']:10.2f}"
            if ratio
            else ""
        )
        print(
            f"{name:18} {side['tokens_per_second']:9.0f} {side['latency_p50_ms']:8.1f} {side['latency_p95_ms']:8.1f} "
            f"{tail}"
        )
    recording.write(
        args.json,
        {
            "model": model,
            "requests_per_round": args.requests,
            "max_tokens": args.max_tokens,
            "repeats": args.repeats,
            "server_start_up_seconds": start_up,
            "same_text_on_every_side": same_text,
            "sides": sides,
            "ratios": ratios,
        },
    )


if __name__ == "__main__":
    main()
