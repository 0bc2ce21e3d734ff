"""An OpenAI-compatible HTTP API for a registered session-8 model, a client for any such API, and an
evaluation that sends the task checks to one (the pipeline's lm_serve_check step, `labkit serve`).

Standard library only (http.server, urllib): no web framework and no ``openai`` package, so it runs on a
classroom machine as installed. The server answers ``GET /v1/models`` and ``POST /v1/chat/completions`` with
OpenAI's JSON shapes (``choices[0].message.content``, ``usage``), so the same client code reaches the kit's
model or a real provider: only the base URL and the key change. Keys are compared, never stored or logged.
"""

from __future__ import annotations

import hmac
import json
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from components.lm_evaluate.logic import GUARDRAILS, TASK_CHECKS, CheckResult, guardrail_hits, run_task_checks
from components.lm_register.logic import DEFAULT_MODEL_NAME, GenerationSettings, load_settings, version_dir
from components.lm_train.charlm import CharLM, load_charlm

DEFAULT_REGISTRY = Path("build/genai-registry")
API_KEY_ENV = "LABKIT_GENAI_API_KEY"
MAX_BODY_BYTES = 1 << 20
MAX_TOKENS_LIMIT = 4096  # one request must not hold a server thread for minutes
# Sent with every task-check prompt, so that a chat model continues the text instead of chatting about it; the
# kit's model uses only the user message (its prompt template is "{user}").
CONTINUE_INSTRUCTION = "Continuá el texto del usuario: respondé solo con las palabras que siguen, sin repetirlo."


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}}


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    model: CharLM
    settings: GenerationSettings
    created: int

    @property
    def model_id(self) -> str:
        return f"{self.name}:{self.version}"


def load_served_model(registry: Path, name: str = DEFAULT_MODEL_NAME, version: str | None = None) -> ServedModel:
    """A registered version (the champion unless ``version`` is given), with its generation settings."""
    return served_from_folder(version_dir(Path(registry), name, version), name)


def served_from_folder(folder: Path, name: str = DEFAULT_MODEL_NAME) -> ServedModel:
    """A registered version's folder (weights, vocabulary, generation settings) as a servable model."""
    return ServedModel(
        name=name,
        version=folder.name,
        model=load_charlm(folder),
        settings=load_settings(folder),
        created=int(folder.stat().st_mtime),
    )


def _number(body: dict[str, Any], key: str, default: float, kind: type, low: float, high: float) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not float(value).is_integer())
    ):
        raise ApiError(400, f"'{key}' must be {'an integer' if kind is int else 'a number'}, got {value!r}", code=key)
    if not low <= value <= high:
        raise ApiError(400, f"'{key}' must be between {low} and {high}, got {value}", code=key)
    return kind(value)


def complete_chat(served: ServedModel, body: Any) -> dict[str, Any]:
    """The response to a chat completion request body, or ApiError naming what is wrong with it."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content} objects", code="messages")
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise ApiError(400, "every message needs a string 'content' (text only)", code="messages")
    requested = body.get("model")
    if requested not in (None, served.name, served.model_id):
        raise ApiError(
            404, f"the model {requested!r} does not exist; this server has {served.model_id!r}", code="model_not_found"
        )
    if body.get("stream"):
        raise ApiError(400, "streaming is not supported by this server; send stream=false", code="stream")
    if body.get("n") not in (None, 1):
        raise ApiError(400, "only n=1 is supported", code="n")
    settings = served.settings
    # OpenAI's newer name first; older clients send max_tokens.
    tokens_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _number(body, tokens_key, settings.max_tokens, int, 0, MAX_TOKENS_LIMIT)
    temperature = _number(body, "temperature", settings.temperature, float, 0, 2)
    seed = _number(body, "seed", settings.seed, int, 0, 2**32 - 1)
    stop = body.get("stop", list(settings.stop))
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise ApiError(400, "'stop' must be a string or a list of strings", code="stop")
    try:
        prompt = settings.render(messages)
    except ValueError as exc:
        raise ApiError(400, str(exc), code="messages") from None
    generated = served.model.generate(prompt, max_tokens, temperature=temperature, seed=seed, stop=stop)
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": generated.text},
                "finish_reason": generated.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": generated.prompt_tokens,
            "completion_tokens": generated.completion_tokens,
            "total_tokens": generated.prompt_tokens + generated.completion_tokens,
        },
    }


def make_handler(served: ServedModel, api_key: str | None, quiet: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "labkit-genai"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the request line and status; never headers
            if not quiet:
                print(f"{self.address_string()} {format % args}", file=sys.stderr, flush=True)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", "Bearer")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if not api_key:
                return True
            given = self.headers.get("Authorization", "")
            scheme, _, token = given.partition(" ")
            return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())

        def _handle(self, method: str) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            try:
                if not self._authorized():
                    raise ApiError(
                        401, "Incorrect API key provided (send 'Authorization: Bearer KEY')", code="invalid_api_key"
                    )
                if method == "GET" and path == "/v1/models":
                    entry = {"id": served.model_id, "object": "model", "created": served.created, "owned_by": "labkit"}
                    self._send(200, {"object": "list", "data": [entry]})
                elif method == "POST" and path == "/v1/chat/completions":
                    self._send(200, complete_chat(served, self._json_body()))
                elif path in ("/v1/models", "/v1/chat/completions"):
                    raise ApiError(405, f"{method} is not allowed on {path}")
                else:
                    raise ApiError(
                        404,
                        f"unknown path {path!r}: this server has GET /v1/models and POST /v1/chat/completions",
                        code="unknown_url",
                    )
            except ApiError as error:
                # The body of a refused request may be unread: close rather than parse it as the next request.
                self.close_connection = True
                self._send(error.status, error.body())

        def _json_body(self) -> Any:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                raise ApiError(400, "bad Content-Length header") from None
            if length > MAX_BODY_BYTES:
                self.close_connection = True  # the body is not read, so the connection cannot be reused
                raise ApiError(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


def make_server(
    served: ServedModel, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None, quiet: bool = False
) -> ThreadingHTTPServer:
    """A bound server (port 0: a free one, read it from ``server.server_address``); OSError if the port is busy."""
    server = ThreadingHTTPServer((host, port), make_handler(served, api_key, quiet))
    server.daemon_threads = True
    return server


def base_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/v1"


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="labkit-genai", daemon=True)
    thread.start()
    return thread


class ChatError(RuntimeError):
    """An endpoint answered with an error (status and its message) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _request(url: str, api_key: str | None, payload: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", {}).get("message", "")
        except (json.JSONDecodeError, AttributeError):
            detail = ""
        raise ChatError(f"{url} answered {exc.code}: {detail or exc.reason}", exc.code) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChatError(f"cannot reach {url}: {reason}") from None


def chat(
    base_url: str, api_key: str | None, messages: list[dict[str, str]], timeout: float = 60.0, **settings: Any
) -> dict[str, Any]:
    """POST ``{base_url}/chat/completions`` (OpenAI's API shape) and return the response JSON.

    ``settings`` go into the request body as they are: model, temperature, max_tokens, seed, stop... A real
    provider needs ``model``; the kit's server takes any of its own names or none. ChatError on failure.
    """
    return _request(f"{base_url.rstrip('/')}/chat/completions", api_key, {"messages": messages, **settings}, timeout)


def list_models(base_url: str, api_key: str | None, timeout: float = 30.0) -> list[str]:
    return [m["id"] for m in _request(f"{base_url.rstrip('/')}/models", api_key, None, timeout).get("data", [])]


@dataclass(frozen=True)
class EndpointEvaluation:
    base_url: str
    model: str | None
    task_checks_passed: int
    task_checks_total: int
    guardrail_hits: int
    completion_tokens: int
    seconds: float
    checks: list[CheckResult]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_endpoint(
    base_url: str,
    api_key: str | None,
    model: str | None = None,
    checks: Sequence[tuple[str, str]] = TASK_CHECKS,
    guardrails: Sequence[str] = GUARDRAILS,
    temperature: float = 0.0,
    max_tokens: int = 32,
    seed: int = 0,
) -> EndpointEvaluation:
    """The session's task checks and guardrails against any OpenAI-compatible endpoint.

    The key is used for the requests only: it is not part of the result, and errors never include it.
    """
    tokens = 0
    settings: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    if model:
        settings["model"] = model

    def generate(prompt: str) -> str:
        nonlocal tokens
        messages = [{"role": "system", "content": CONTINUE_INSTRUCTION}, {"role": "user", "content": prompt}]
        response = chat(base_url, api_key, messages, **settings)
        try:
            content = response["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ChatError(f"{base_url} answered without choices[0].message.content") from None
        tokens += int(response.get("usage", {}).get("completion_tokens", 0))
        return content

    start = time.perf_counter()
    results = run_task_checks(generate, checks)
    hits = guardrail_hits([r.output for r in results], guardrails)
    return EndpointEvaluation(
        base_url=base_url,
        model=model,
        task_checks_passed=sum(r.passed for r in results),
        task_checks_total=len(results),
        guardrail_hits=len(hits),
        completion_tokens=tokens,
        seconds=round(time.perf_counter() - start, 3),
        checks=results,
    )


def check_served(
    registered: Path,
    name: str = DEFAULT_MODEL_NAME,
    endpoint: str = "",
    api_key: str | None = None,
    endpoint_model: str | None = None,
    max_tokens: int = 32,
) -> EndpointEvaluation:
    """The task checks sent as chat completions over HTTP: to ``endpoint`` when one is given (any
    OpenAI-compatible base URL), else to the registered model in ``registered``, served on 127.0.0.1 for the
    length of the check. Either way the requests and the reading of the answers are the same code."""
    if endpoint:
        return evaluate_endpoint(endpoint, api_key or None, endpoint_model or None, max_tokens=max_tokens)
    server = make_server(served_from_folder(registered, name), quiet=True)
    serve_in_thread(server)
    try:
        return evaluate_endpoint(base_url(server), None, max_tokens=max_tokens)
    finally:
        server.shutdown()
        server.server_close()
