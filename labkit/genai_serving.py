"""The session-8 serving code lives with its pipeline step (``components/lm_serve/logic.py``); these are the
names the CLI and the monitor use from it."""

from components.lm_serve.logic import (
    API_KEY_ENV,
    DEFAULT_REGISTRY,
    ChatError,
    ServedModel,
    base_url,
    chat,
    evaluate_endpoint,
    list_models,
    load_served_model,
    make_server,
    serve_in_thread,
)

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_REGISTRY",
    "ChatError",
    "ServedModel",
    "base_url",
    "chat",
    "evaluate_endpoint",
    "list_models",
    "load_served_model",
    "make_server",
    "serve_in_thread",
]
