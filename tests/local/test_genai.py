"""Session 8 end to end: real `labkit pipeline run genai` runs (TensorFlow training, kfp.local) into one registry,
then the registered model served over real HTTP on 127.0.0.1 and called with the kit's OpenAI-style client.
The run also scores retrieval over the guides (recall@k, MRR) beside the language model.

The tests run in order and share the registry: the first run registers v0001; an identical run trains the same
weights, ties with the champion and registers nothing (champion/challenger); the served champion answers chat
completions, refuses a bad key, and a busy port is named.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.champion.logic import champion_version, list_versions
from components.lm_serve.logic import (
    ChatError,
    base_url,
    chat,
    evaluate_endpoint,
    list_models,
    load_served_model,
    make_server,
    serve_in_thread,
)
from labkit.cli import app
from labkit.paths import REPO_ROOT

pytestmark = pytest.mark.slow
SMALL = ("-p", "epochs=8", "-p", "seed=7")  # 8 epochs: about 20 s of training, enough to beat a trigram
KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("genai") / "registry"


def run_genai(runs_dir: Path, registry: Path, *params: str) -> dict:
    args = ["pipeline", "run", "genai", "--runs-dir", str(runs_dir), "--output", "json", "-p", f"registry={registry}"]
    result = CliRunner().invoke(app, [*args, *SMALL, *params])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def first_run(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_genai(tmp_path_factory.mktemp("runs"), registry)


def test_a_run_trains_beats_the_ngram_baseline_and_registers_v0001(first_run: dict, registry: Path) -> None:
    metrics = first_run["metrics"]
    assert first_run["succeeded"] is True
    assert metrics["perplexity"] < metrics["baseline_perplexity"] and metrics["baseline_order"] >= 3
    assert metrics["guardrail_hits"] == 0 and metrics["passed"] is True
    assert metrics["task_checks_total"] == 10
    assert metrics["recall_at_k"] > metrics["random_recall_at_k"] and metrics["mrr"] > metrics["random_mrr"]
    tasks = {"rag-retrieval", "rag-register", "text-corpus", "lm-train", "lm-evaluate", "lm-compare", "lm-register"}
    assert tasks | {"lm-serve-check"} == set(first_run["tasks"])
    assert metrics["index_passed"] is True and list_versions(registry, "guides-index") == ["v0001"]
    assert list_versions(registry, "charlm") == ["v0001"] and champion_version(registry, "charlm") == "v0001"
    version = registry / "charlm" / "v0001"
    generation = json.loads((version / "generation.json").read_text())
    assert generation == {"prompt_template": "{user}", "temperature": 0.7, "max_tokens": 200, "seed": 7, "stop": ["\n"]}
    assert json.loads((version / "metrics.json").read_text())["perplexity"] == metrics["perplexity"]
    report = Path(first_run["artifacts"]["lm-evaluate/report"]).read_text()
    assert "Perplejidad en test" in report and "Task checks" in report


def test_the_registered_model_is_served_and_answers_the_serve_check_over_http(first_run: dict) -> None:
    served = json.loads(Path(first_run["artifacts"]["lm-serve-check/served"]).read_text())
    assert served["endpoint"] == "the registered model on 127.0.0.1"
    assert served["task_checks_total"] == 10 and served["guardrail_hits"] == 0
    assert served["completion_tokens"] > 0 and served["tokens_per_second"] > 0
    # The same checks in process and over HTTP: the served model answers as the evaluated one does.
    assert served["task_checks_passed"] == first_run["metrics"]["task_checks_passed"]


def test_an_identical_run_ties_with_the_champion_and_registers_nothing(
    first_run: dict, registry: Path, tmp_path: Path
) -> None:
    again = run_genai(tmp_path, registry)
    assert again["metrics"]["perplexity"] == first_run["metrics"]["perplexity"]  # same seed, same weights
    assert "lm-compare" in again["tasks"] and "lm-register" not in again["tasks"]
    assert "rag-register" in again["tasks"] and list_versions(registry, "guides-index") == ["v0001"]  # a tie
    comparison = json.loads(Path(again["artifacts"]["lm-compare/comparison"]).read_text())
    assert comparison["better"] is False and "el campeón se queda" in comparison["reason"]
    assert list_versions(registry, "charlm") == ["v0001"]


def test_a_closed_gate_registers_nothing(first_run: dict, registry: Path, tmp_path: Path) -> None:
    closed = run_genai(tmp_path, registry, "-p", "epochs=1", "-p", "margin=0.9", "-p", "min_recall=1.01")
    assert closed["metrics"]["passed"] is False and closed["metrics"]["beats_baseline"] is False
    assert "lm-compare" not in closed["tasks"] and "lm-register" not in closed["tasks"]
    assert "rag-retrieval" in closed["tasks"] and "rag-register" not in closed["tasks"]  # the index's own gate
    assert list_versions(registry, "charlm") == ["v0001"]


@pytest.fixture(scope="module")
def served_cli(first_run: dict, registry: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`labkit serve genai --port 0` in its own process, with a key: yields the base URL it printed."""
    env = {**os.environ, "LABKIT_GENAI_API_KEY": KEY, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "labkit", "serve", "genai", "--registry", str(registry), "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("serving charlm:v0001 at http://127.0.0.1:"), (line, process.poll())
        yield line.split(" at ", 1)[1].strip(), process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_served_model_answers_openai_shaped_chat_completions(served_cli: tuple[str, subprocess.Popen]) -> None:
    url, _ = served_cli
    assert url.endswith("/v1")
    assert list_models(url, KEY) == ["charlm:v0001"]
    messages = [{"role": "system", "content": "ignored"}, {"role": "user", "content": "el correc"}]
    response = chat(url, KEY, messages, temperature=0, max_tokens=12, stop=[])
    assert response["object"] == "chat.completion" and response["model"] == "charlm:v0001"
    content = response["choices"][0]["message"]["content"]
    assert response["choices"][0]["message"]["role"] == "assistant" and len(content) == 12
    assert response["choices"][0]["finish_reason"] == "length"
    assert response["usage"] == {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
    # Generation settings come from the registry (seed 7, temperature 0.7): the same request, the same answer.
    default = [{"role": "user", "content": "la corri"}]
    assert chat(url, KEY, default)["choices"][0] == chat(url, KEY, default)["choices"][0]


def test_the_official_openai_client_talks_to_the_served_model(served_cli: tuple[str, subprocess.Popen]) -> None:
    """The kit's client and server could agree with each other and not with OpenAI: OpenAI's own package checks
    the shapes (models, chat completions, usage, errors) against the real server process."""
    from openai import AuthenticationError, BadRequestError, NotFoundError, OpenAI

    url, _ = served_cli
    client = OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
    assert [model.id for model in client.models.list()] == ["charlm:v0001"]
    user = [{"role": "user", "content": "el correc"}]
    completion = client.chat.completions.create(
        model="charlm", messages=user, max_completion_tokens=12, temperature=0, seed=1, stop=[]
    )
    answer = completion.choices[0]
    assert answer.message.role == "assistant" and len(answer.message.content or "") == 12
    assert answer.finish_reason == "length" and completion.model == "charlm:v0001"
    assert completion.usage is not None and (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        9,
        12,
    )
    with pytest.raises(AuthenticationError):
        OpenAI(base_url=url, api_key="wrong-key", max_retries=0).chat.completions.create(model="charlm", messages=user)
    with pytest.raises(BadRequestError, match="streaming"):
        client.chat.completions.create(model="charlm", messages=user, stream=True)
    with pytest.raises(NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=user)


# Before the next test, which stops the served_cli server to read its log.
def test_endpoint_parameters_send_the_serve_check_elsewhere_and_the_key_stays_out_of_the_run(
    served_cli: tuple[str, subprocess.Popen], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = served_cli
    monkeypatch.setenv("STUDENT_KEY", KEY)
    endpoint = ("-p", f"endpoint_url={url}", "-p", "endpoint_api_key_env=STUDENT_KEY", "-p", "endpoint_model=charlm")
    run = run_genai(tmp_path / "runs", tmp_path / "registry", *endpoint)
    served = json.loads(Path(run["artifacts"]["lm-serve-check/served"]).read_text())
    assert served["endpoint"] == url and served["task_checks_total"] == 10 and served["completion_tokens"] > 0
    for written in (tmp_path / "runs").rglob("*"):
        if written.is_file():
            assert KEY.encode() not in written.read_bytes(), written
    monkeypatch.setenv("STUDENT_KEY", "wrong-key")
    args = ["pipeline", "run", "genai", "--runs-dir", str(tmp_path / "again"), "-p", f"registry={tmp_path}/r2"]
    refused = CliRunner().invoke(app, [*args, *SMALL, *endpoint])
    assert refused.exit_code != 0 and "lm-serve-check" in refused.output and "401" in refused.output


def test_the_evaluation_client_scores_the_served_model_and_the_key_stays_out_of_results_and_logs(
    served_cli: tuple[str, subprocess.Popen], first_run: dict
) -> None:
    url, process = served_cli
    result = evaluate_endpoint(url, KEY)
    assert result.task_checks_total == 10 and result.guardrail_hits == 0
    assert result.task_checks_passed >= 1 and result.completion_tokens > 0
    assert KEY not in json.dumps(result.as_dict())
    with pytest.raises(ChatError) as refused:
        chat(url, "wrong-key", [{"role": "user", "content": "el pipel"}])
    assert refused.value.status == 401 and "API key" in str(refused.value) and "wrong-key" not in str(refused.value)
    with pytest.raises(ChatError) as missing:
        list_models(url, None)
    assert missing.value.status == 401
    process.terminate()
    _, log = process.communicate(timeout=10)
    assert "POST /v1/chat/completions" in log and " 401 " in log
    assert KEY not in log and "wrong-key" not in log


def test_errors_are_openai_shaped(first_run: dict, registry: Path) -> None:
    server = make_server(load_served_model(registry), api_key=None, quiet=True)
    serve_in_thread(server)
    url = base_url(server)
    try:
        user = [{"role": "user", "content": "el pipel"}]
        cases = [
            ({"model": "gpt-4o"}, 404, "does not exist"),
            ({"stream": True}, 400, "streaming"),
            ({"max_tokens": -1}, 400, "max_tokens"),
            ({"temperature": "hot"}, 400, "temperature"),
        ]
        for settings, status, words in cases:
            with pytest.raises(ChatError) as error:
                chat(url, None, user, **settings)
            assert error.value.status == status and words in str(error.value)
        with pytest.raises(ChatError, match="no user message"):
            chat(url, None, [{"role": "system", "content": "hola"}])
        assert chat(url, None, user, model="charlm")["choices"][0]["message"]["content"] is not None
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_port_is_named(first_run: dict, registry: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        command = [sys.executable, "-m", "labkit", "serve", "genai", "--registry", str(registry), "--port", str(port)]
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and time.perf_counter() - start < 60
    assert f"port {port} on 127.0.0.1 is busy" in done.stderr and "--port 0" in done.stderr
