"""Chat models (OpenAI-compatible), the retry policy for transient errors, and JSON replies."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import openai
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from langgraph.types import RetryPolicy
from pydantic import BaseModel, SecretStr, ValidationError

from memento_graph import prompts
from memento_graph.settings import SETTINGS

M = TypeVar("M", bound=BaseModel)


def chat_model(model: str, timeout: float, max_tokens: int | None = None) -> ChatOpenAI:
    """Return a ChatOpenAI for `model` (OPENAI_API_KEY, OPENAI_BASE_URL from the environment).

    Replies are streamed and `timeout` bounds the silence between two chunks, not the whole
    reply: a local model generating slowly but steadily is never cut off and re-sent, a stuck
    endpoint still is, and a timed-out stream is closed so a one-slot server stops generating.
    `max_tokens` bounds the reply. The client does not retry by itself: LangGraph's retry
    policy retries the node instead. Clients are shared per endpoint and settings.
    """
    return _client(
        model,
        timeout,
        max_tokens,
        os.environ.get("OPENAI_BASE_URL"),
        os.environ.get("OPENAI_API_KEY"),
    )


@lru_cache(maxsize=32)
def _client(
    model: str, timeout: float, max_tokens: int | None, base_url: str | None, key: str | None
) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        max_retries=0,
        base_url=base_url,
        api_key=None if key is None else SecretStr(key),
        **streamed(timeout, max_tokens),
    )


def streamed(timeout: float, max_tokens: int | None) -> dict[str, Any]:
    """Return ChatOpenAI settings for streamed replies: `timeout` of silence, `max_tokens` each."""
    return {
        "timeout": timeout,
        "stream_chunk_timeout": timeout,
        "max_tokens": max_tokens,
        "streaming": True,
        "stream_usage": True,
    }


def is_transient(exc: BaseException) -> bool:
    """Tell whether a model error is worth retrying: 429, 5xx, timeouts, lost connections."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, TimeoutError))


def model_retry() -> RetryPolicy:
    """Return the retry policy of every node that calls a model (read from the environment now).

    `MEMENTO_MODEL_RETRIES` attempts in all, exponential backoff from `MEMENTO_RETRY_INITIAL`.
    """
    return RetryPolicy(
        initial_interval=SETTINGS.retry_initial,
        backoff_factor=2.0,
        max_interval=30.0,
        max_attempts=SETTINGS.model_retries,
        retry_on=is_transient,
    )


def usage(message: BaseMessage) -> dict[str, int]:
    """Return the token counts of a model reply as {"input", "output"}."""
    meta = getattr(message, "usage_metadata", None) or {}
    return {"input": meta.get("input_tokens", 0), "output": meta.get("output_tokens", 0)}


def add_usage(tokens: dict[str, int], reply: BaseMessage) -> None:
    """Add a reply's token counts to `tokens` in place."""
    for key, value in usage(reply).items():
        tokens[key] = tokens.get(key, 0) + value


def text_of(reply: BaseMessage) -> str:
    """Return a reply's text content."""
    return reply.content if isinstance(reply.content, str) else json.dumps(reply.content)


def was_cut(reply: BaseMessage) -> bool:
    """Tell whether a reply stopped at the length limit (finish_reason `length`)."""
    meta = getattr(reply, "response_metadata", None) or {}
    return meta.get("finish_reason") == "length"


def response_format(schema: type[BaseModel] | dict[str, Any], name: str = "") -> dict[str, Any]:
    """Return an OpenAI `response_format` asking for JSON that matches `schema`."""
    if isinstance(schema, dict):
        return {"type": "json_schema", "json_schema": {"name": name or "reply", "schema": schema}}
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.__name__,
            "schema": all_required(schema.model_json_schema()),
        },
    }


def json_reply(
    llm: ChatOpenAI, schema: type[BaseModel] | dict[str, Any], name: str = ""
) -> Runnable[LanguageModelInput, BaseMessage]:
    """Return `llm` bound to reply with JSON matching `schema` (see `response_format`).

    The format goes into the request body as it is: given as `response_format`, LangChain would
    stream through openai's beta helper, whose import costs ~0.6 s on the first plan of a process.
    A reply cut at the length limit then comes back with finish_reason `length` (`was_cut`).
    """
    return llm.bind(extra_body={"response_format": response_format(schema, name)})


def all_required(schema: Any) -> Any:
    """Mark every property of every object required, in the order the model declares them.

    A grammar then writes the fields in that order (llama.cpp puts optional ones anywhere, so a
    small model started with a rambling `thought` and never reached the plan); defaults still
    apply when a server without grammars leaves a field out.
    """
    if isinstance(schema, dict):
        out = {k: all_required(v) for k, v in schema.items()}
        if isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
        return out
    if isinstance(schema, list):
        return [all_required(v) for v in schema]
    return schema


def _parse(schema: type[M], text: str) -> M:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return schema.model_validate_json(text)


async def ask_json(
    llm: ChatOpenAI,
    messages: list[BaseMessage],
    schema: type[M],
    salvage: Callable[[str], tuple[M, str] | None] | None = None,
) -> tuple[M | None, str | None, dict[str, int]]:
    """Ask for a JSON reply matching `schema`; on malformed or length-cut output, repair once.

    The repair shows the model its reply and what was wrong (for a reply cut at the length
    limit: to be shorter). When the repair fails too, `salvage` may still make a value of the
    last reply. Returns (parsed or None, error or None, token counts); a salvaged value comes
    with the error and what was mended.
    """
    bound = json_reply(llm, schema)
    tokens = {"input": 0, "output": 0}
    error = ""
    for attempt in range(2):
        try:
            reply = await bound.ainvoke(messages)
            add_usage(tokens, reply)
            text = text_of(reply)
            if was_cut(reply):
                raise _Cut(text)
            return _parse(schema, text), None, tokens
        except _Cut as exc:
            text = exc.text
            error, repair = _cut_error(llm), prompts.TOO_LONG
        except (ValidationError, ValueError) as exc:
            error, repair = _short(exc), prompts.REPAIR
        if attempt == 0:
            messages = [
                *messages,
                AIMessage(content=text[:4000]),
                HumanMessage(content=repair.format(error=error)),
            ]
    mended = salvage(text) if salvage is not None else None
    if mended is not None:
        return mended[0], f"{error}; salvaged: {mended[1]}", tokens
    return None, error, tokens


class _Cut(Exception):
    def __init__(self, text: str) -> None:
        super().__init__("cut at the length limit")
        self.text = text


def _cut_error(llm: ChatOpenAI) -> str:
    return f"the reply was cut at the length limit ({llm.max_tokens} tokens)"


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc).splitlines()[0][:300]
