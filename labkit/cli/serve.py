"""``labkit serve``: an OpenAI-compatible HTTP API for a registered session-8 model, and checks of any endpoint."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import typer
from rich.table import Table

from labkit.cli.common import API_KEY_ENV_OPTION, OUTPUT_OPTION, OutputFormat, console, fail

app = typer.Typer(help="Serve a registered language model over an OpenAI-compatible API.", no_args_is_help=True)


@app.command("genai")
def serve_genai(
    registry: Path = typer.Option(Path("build/genai-registry"), "--registry", help="The genai pipeline's registry."),
    version: str = typer.Option(None, "--version", help="A version such as v0002 [default: the champion]."),
    model_name: str = typer.Option("charlm", "--model-name", help="The model's name in the registry."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on; 0 picks a free one."),
    api_key_env: str = API_KEY_ENV_OPTION,
) -> None:
    """Answer POST /v1/chat/completions and GET /v1/models with the registry's model until Ctrl-C.

    If the variable named by --api-key-env is set, every request must send `Authorization: Bearer <key>`.

    Example: labkit serve genai --registry build/genai-registry --port 0
    Then: curl -s BASE_URL/chat/completions -d '{"messages": [{"role": "user", "content": "el pipel"}]}'
    """
    from components.lm_serve.logic import base_url, load_served_model, make_server

    try:
        served = load_served_model(registry, model_name, version)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), "run `labkit pipeline run genai` first, or give --registry and --version of a registered model")
    api_key = os.environ.get(api_key_env) or None
    try:
        server = make_server(served, host, port, api_key)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is busy (another server is listening there)", "use --port 0 for a free port")
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    # The first line is the one a script waits for; flushed, because stdout may be a pipe.
    typer.echo(f"serving {served.model_id} at {base_url(server)}")
    guard = f"required (from ${api_key_env})" if api_key else f"none (set ${api_key_env} to require one)"
    typer.echo(f"API key: {guard}; Ctrl-C stops the server")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command("check")
def check_endpoint(
    base_url: str = typer.Option(
        ..., "--base-url", help="An OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1."
    ),
    model: str = typer.Option(None, "--model", help="Model name to ask for (a real provider needs one)."),
    api_key_env: str = API_KEY_ENV_OPTION,
    max_tokens: int = typer.Option(32, "--max-tokens", help="Tokens per answer."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Send the session's task checks to an endpoint and look for guardrail strings in its answers.

    Example: OPENAI_API_KEY=... labkit serve check --base-url https://api.openai.com/v1 --model gpt-4o-mini
    --api-key-env OPENAI_API_KEY
    """
    import json

    from components.lm_serve.logic import ChatError, evaluate_endpoint

    try:
        result = evaluate_endpoint(base_url, os.environ.get(api_key_env) or None, model, max_tokens=max_tokens)
    except ChatError as exc:
        fail(str(exc), f"is the server running, and is ${api_key_env} its key?")
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
        return
    table = Table(title=f"task checks against {base_url}")
    for column in ("prompt", "expected", "answer", "passed"):
        table.add_column(column, overflow="fold")
    for check in result.checks:
        table.add_row(check.prompt, check.expected, check.output, "✓" if check.passed else "✗")
    console.print(table)
    console.print(
        f"task checks {result.task_checks_passed}/{result.task_checks_total}, guardrail hits {result.guardrail_hits}, "
        f"{result.completion_tokens} completion tokens in {result.seconds:.1f} s"
    )
