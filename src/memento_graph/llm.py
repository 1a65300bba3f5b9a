"""Chat models (OpenAI-compatible), the retry policy for transient errors, and JSON replies."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any, TypeVar

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.types import RetryPolicy
from pydantic import BaseModel, ValidationError

from memento_graph import prompts
from memento_graph.context import env_value

M = TypeVar("M", bound=BaseModel)


def chat_model(model: str, timeout: float) -> ChatOpenAI:
    """Return a ChatOpenAI for `model` (OPENAI_API_KEY, OPENAI_BASE_URL from the environment).

    The client does not retry by itself: LangGraph's `MODEL_RETRY` retries the node instead.
    Clients are shared per endpoint, so connections are reused across calls.
    """
    return _client(
        model, timeout, os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_API_KEY")
    )


@lru_cache(maxsize=32)
def _client(model: str, timeout: float, base_url: str | None, key: str | None) -> ChatOpenAI:
    return ChatOpenAI(model=model, timeout=timeout, max_retries=0, base_url=base_url, api_key=key)


def is_transient(exc: Exception) -> bool:
    """Tell whether a model error is worth retrying: 429, 5xx, timeouts, lost connections."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, TimeoutError))


MODEL_RETRY = RetryPolicy(
    initial_interval=env_value("MEMENTO_RETRY_INITIAL", 0.5),
    backoff_factor=2.0,
    max_interval=30.0,
    max_attempts=env_value("MEMENTO_MODEL_RETRIES", 4),
    retry_on=is_transient,
)
"""Retry policy of every node that calls a model (`MEMENTO_MODEL_RETRIES` attempts in all)."""


def usage(message: BaseMessage) -> dict[str, int]:
    """Return the token counts of a model reply as {"input", "output"}."""
    meta = getattr(message, "usage_metadata", None) or {}
    return {"input": meta.get("input_tokens", 0), "output": meta.get("output_tokens", 0)}


def response_format(schema: type[BaseModel]) -> dict[str, Any]:
    """Return an OpenAI `response_format` asking for JSON that matches `schema`."""
    return {
        "type": "json_schema",
        "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
    }


def _parse(schema: type[M], text: str) -> M:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return schema.model_validate_json(text)


async def ask_json(
    llm: ChatOpenAI, messages: list[BaseMessage], schema: type[M]
) -> tuple[M | None, str | None, dict[str, int]]:
    """Ask for a JSON reply matching `schema`; on malformed output, repair once.

    The repair shows the model its reply and the validation error. Returns (parsed or None,
    error or None, token counts).
    """
    bound = llm.bind(response_format=response_format(schema))
    tokens = {"input": 0, "output": 0}
    for attempt in range(2):
        reply = await bound.ainvoke(messages)
        for key, value in usage(reply).items():
            tokens[key] += value
        text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
        try:
            return _parse(schema, text), None, tokens
        except (ValidationError, ValueError) as exc:
            error = _short(exc)
            if attempt == 0:
                messages = [
                    *messages,
                    AIMessage(content=text),
                    HumanMessage(content=prompts.REPAIR.format(error=error)),
                ]
    return None, error, tokens


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc).splitlines()[0][:300]
