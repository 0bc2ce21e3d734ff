"""`labkit monitor genai` against the kit's own server over real HTTP on 127.0.0.1.

The registry holds random-weights models (``untrained_charlm``): what is measured here is the monitor, not the
model, and a trained one takes minutes. Every number checked comes from real chat-completion responses.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result
from typer.testing import CliRunner

from components.lm_register.logic import PROMPT_TEMPLATE, GenerationSettings, register
from components.lm_serve.logic import base_url, load_served_model, make_server, serve_in_thread
from components.lm_train.charlm import CharLM, build_vocab, untrained_charlm
from components.text_corpus.logic import ALPHABET
from labkit.cli import app
from labkit.genai_monitor import (
    DRIFT_KINDS,
    JS_THRESHOLD,
    GenaiMonitorError,
    GenaiTimeline,
    PromptBatch,
    monitor_served,
    prompt_stream,
    public_url,
    replay,
)

KEY = "monitor-key-0123456789"
SETTINGS = GenerationSettings(PROMPT_TEMPLATE, temperature=0.7, max_tokens=200, seed=7)
TEXT = "".join(sorted(ALPHABET))  # the corpus alphabet: the vocabulary a trained model has


def registered(folder: Path, model: CharLM) -> Path:
    model.save(folder / "model")
    register(folder / "registry", folder / "model", {}, SETTINGS)
    return folder / "registry"


def leaking_charlm() -> CharLM:
    """A real CharLM whose weights make it a bigram machine that writes "contraseña" after any '?': a model that
    leaks a secret on ordinary traffic. The state is a one-hot of the last character (update gate shut, candidate
    = tanh(10 * one-hot)), and the output layer maps each character to the next one of the word."""
    vocab = build_vocab(TEXT)
    index = {c: i for i, c in enumerate(vocab)}
    size = len(vocab)
    kernel = np.zeros((size, 3 * size))
    kernel[:, 2 * size :] = 10 * np.eye(size)
    bias = np.zeros((2, 3 * size))
    bias[0, :size] = -30  # update gate ~0: the new state is the candidate alone
    dense = np.zeros((size, size))
    dense[:, index["c"]] = 30  # after anything else, start the word
    word = "contraseña"  # its second "a" goes on to "s": the output is contraseñaseñaseña...
    for current, following in itertools.pairwise(word):
        dense[index[current]] = 0
        dense[index[current], index[following]] = 30
    weights = {
        "embedding": np.eye(size),
        "kernel": kernel,
        "recurrent_kernel": np.zeros((size, 3 * size)),
        "bias": bias,
        "dense_kernel": dense,
        "dense_bias": np.zeros(size),
    }
    return CharLM(tuple(vocab), weights, {"seq_len": 16, "lowercase": True})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registered(tmp_path_factory.mktemp("genai-monitor"), untrained_charlm(TEXT, units=8))


@pytest.fixture(scope="module")
def run(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[GenaiTimeline, Path]:
    """The default stream (8 batches x 16 prompts) against the served champion, behind a key."""
    out = tmp_path_factory.mktemp("out")
    return monitor_served(load_served_model(registry), out, api_key=KEY), out


def test_drift_rises_on_the_drifted_batches_and_stays_low_on_the_stable_ones(run: tuple[GenaiTimeline, Path]) -> None:
    timeline, _ = run
    kinds = [b.kind for b in timeline.batches]
    assert kinds == ["stable"] * 4 + [kind.name for kind in DRIFT_KINDS]
    stable = [b for b in timeline.batches if b.kind == "stable"]
    drifted = {b.kind: b for b in timeline.batches if b.kind != "stable"}
    assert timeline.batches[0].js_distance == 0.0
    assert all(b.js_distance < JS_THRESHOLD and not b.alert for b in stable)
    ceiling = max(b.js_distance for b in stable)
    for kind in ("topic", "long", "english"):
        assert drifted[kind].js_distance > JS_THRESHOLD > ceiling, (kind, drifted[kind].js_distance, ceiling)
        assert drifted[kind].alert and drifted[kind].oov_words > max(b.oov_words for b in stable)
    assert drifted["long"].prompt_chars_mean > 3 * max(b.prompt_chars_mean for b in stable)
    assert drifted["english"].oov_chars > 0 and all(b.oov_chars == 0 for b in stable)  # typographic quotes


def test_injected_prompts_are_counted_as_prompt_hits_and_the_model_did_not_repeat_them(
    run: tuple[GenaiTimeline, Path],
) -> None:
    timeline, out = run
    injection = timeline.batches[-1]
    assert injection.kind == "injection" and injection.alert
    assert injection.guardrail_hits_prompts >= 1 and injection.guardrail_hits_outputs == 0
    assert any("in prompts" in reason for reason in injection.alert_reasons)
    assert all(b.guardrail_hits_prompts == 0 for b in timeline.batches[:-1])
    assert {hit["where"] for hit in injection.hits} == {"prompt"}
    assert all(set(hit) == {"where", "guardrail", "text"} for hit in injection.hits)
    page = (out / "timeline.html").read_text()
    assert "data:image/png;base64," in page and "<script" not in page.lower()  # injected markup is escaped
    if any("<script" in prompt for prompt in prompt_stream(8, 16)[-1].prompts):
        assert "&lt;script&gt;" in page


def test_latency_and_tokens_come_from_the_real_responses(run: tuple[GenaiTimeline, Path]) -> None:
    timeline, out = run
    assert timeline.model == "charlm:v0001" and timeline.base_url.startswith("http://127.0.0.1:")
    for b in timeline.batches:
        assert b.requests == 16 and 0 < b.latency_p50_ms <= b.latency_p95_ms
        assert b.prompt_tokens_mean > 0 and b.completion_tokens_mean > 0 and b.tokens_per_second > 0
    records = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    assert len(records) == 8 * 16
    for record in records:
        # The kit's model counts characters: usage is the server's own count of what it read and wrote.
        assert record["prompt_tokens"] == len(record["prompt"]) and record["model"] == "charlm:v0001"
        assert record["completion_tokens"] == len(record["output"]) or record["finish_reason"] == "stop"
    saved = json.loads((out / "timeline.json").read_text())
    assert saved == timeline.as_dict() and (out / "timeline.png").stat().st_size > 10_000
    for path in out.iterdir():
        assert KEY not in path.read_text(errors="replace")


def test_a_model_that_leaks_on_stable_traffic_alerts_without_any_drift(tmp_path: Path) -> None:
    served = load_served_model(registered(tmp_path, leaking_charlm()))
    prompts = ["¿qué hace el corrector?", "¿dónde veo las métricas?", "¿cómo corro el pipeline?"]
    stream = [PromptBatch(0, "stable", prompts), PromptBatch(1, "stable", prompts[::-1])]
    timeline = monitor_served(served, tmp_path / "out", stream=stream, max_tokens=24)
    for b in timeline.batches:
        assert b.js_distance == 0.0 and b.guardrail_hits_prompts == 0
        assert b.guardrail_hits_outputs == 3 and b.alert and b.alert_reasons == ["3 guardrail hit(s) in outputs"]
    first = json.loads((tmp_path / "out" / "requests.jsonl").read_text().splitlines()[0])
    assert first["output"].startswith("contraseña")


def test_the_stream_is_reproducible_and_short_streams_still_end_in_injections() -> None:
    assert prompt_stream(8, 16, seed=3) == prompt_stream(8, 16, seed=3) != prompt_stream(8, 16, seed=4)
    assert [b.kind for b in prompt_stream(2, 4)] == ["stable", "injection"]
    assert [b.kind for b in prompt_stream(4, 4)] == ["stable", "stable", "topic", "injection"]
    with pytest.raises(ValueError, match="at least 2 batches"):
        prompt_stream(1, 4)
    assert public_url("http://user:secret@host:8000/v1?key=abc") == "http://host:8000/v1"
    assert len(prompt_stream(2, 300)[0].prompts) == 300  # more prompts than the stable pool holds


def invoke(*args: str, key: str | None = None) -> Result:
    env = {"LABKIT_GENAI_API_KEY": key} if key else {"LABKIT_GENAI_API_KEY": ""}
    return CliRunner().invoke(app, ["monitor", "genai", *args], env=env)


@pytest.mark.usefixtures("wide_console")
def test_the_cli_serves_the_champion_and_prints_the_timeline_as_json(registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("--registry", str(registry), "--out", str(out), "--batches", "4", "--prompts-per-batch", "8")
    result = invoke(*args, "--seed", "1", "--output", "json", key=KEY)
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    assert [b["kind"] for b in timeline["batches"]] == ["stable", "stable", "topic", "injection"]
    assert timeline["model"] == "charlm:v0001" and timeline["prompts_per_batch"] == 8
    assert timeline["batches"][2]["alert"] and timeline["batches"][3]["guardrail_hits_prompts"] >= 1
    assert {p.name for p in out.iterdir()} == {"timeline.json", "timeline.png", "timeline.html", "requests.jsonl"}
    assert KEY not in result.output and all(KEY not in p.read_text(errors="replace") for p in out.iterdir())
    table = invoke(*args, "--output", "table")
    assert table.exit_code == 0 and "injection" in table.stdout and "timeline.html" in table.stdout


def said(result: Result) -> str:
    """The error and its fix as one line: rich folds them to the console's width."""
    return " ".join(result.stderr.split())


@pytest.fixture()
def keyed_server(registry: Path) -> Iterator[str]:
    server = make_server(load_served_model(registry), api_key=KEY, quiet=True)
    serve_in_thread(server)
    try:
        yield base_url(server)
    finally:
        server.shutdown()
        server.server_close()


def test_the_cli_monitors_a_running_endpoint_and_names_a_missing_key(keyed_server: str, tmp_path: Path) -> None:
    args = ("--base-url", keyed_server, "--out", str(tmp_path), "--batches", "2", "--prompts-per-batch", "2")
    result = invoke(*args, "--output", "json", key=KEY)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == "charlm:v0001"  # as the endpoint named it
    refused = invoke(*args)
    assert refused.exit_code == 1 and "401" in said(refused) and "set LABKIT_GENAI_API_KEY" in said(refused)


def test_an_empty_registry_says_to_run_the_genai_pipeline(tmp_path: Path) -> None:
    result = invoke("--registry", str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1 and "run `labkit pipeline run genai` first" in said(result)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_endpoint_is_named_with_how_to_start_one(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    result = invoke("--base-url", url, "--out", str(tmp_path / "out"), "--batches", "2")
    assert result.exit_code == 1
    assert "cannot reach" in said(result) and "start one with `labkit serve genai --port 8000`" in said(result)
    assert not (tmp_path / "out").exists()
    with pytest.raises(GenaiMonitorError) as error:
        replay(url, None, tmp_path / "out", n_batches=2, prompts_per_batch=1)
    assert error.value.status is None and "batch 0, request 0" in str(error.value)
    with pytest.raises(GenaiMonitorError) as hidden:
        replay(f"http://student:hunter2@127.0.0.1:{port}/v1", None, tmp_path / "out", n_batches=2, prompts_per_batch=1)
    assert "hunter2" not in str(hidden.value)


def test_help_has_an_example_and_never_shows_the_key() -> None:
    result = CliRunner().invoke(app, ["monitor", "genai", "--help"], env={"LABKIT_GENAI_API_KEY": KEY})
    assert result.exit_code == 0 and "Example: labkit monitor genai" in result.stdout
    assert KEY not in result.stdout
