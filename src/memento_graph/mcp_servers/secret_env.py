"""Secrets of the process environment: which variables they are, finding and masking their values.

Two circles. `scrubbed` names (a secret marker or a provider prefix) never reach sandboxed code.
`is_secret` names (a secret marker: KEY, TOKEN, ...) have values worth hiding: tool results mask
them and the web servers refuse URLs and queries that carry them. Values under 8 characters are
ignored (too likely to be ordinary words).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import unquote_plus

SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE")
SECRET_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCP_",
    "E2B_",
    "LANGSMITH_",
    "LANGCHAIN_",
    "HF_",
    "GITHUB_",
    "GH_",
    "SSH_",
    "MEMENTO_",
)
MIN_LENGTH = 8


def is_secret(name: str) -> bool:
    """Tell whether a variable's value is a secret (its name carries KEY, TOKEN, SECRET...)."""
    return any(marker in name.upper() for marker in SECRET_MARKERS)


def scrubbed(name: str) -> bool:
    """Tell whether a variable is kept from sandboxed code (a secret or a provider's setting)."""
    return is_secret(name) or name.upper().startswith(SECRET_PREFIXES)


def secret_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return {value: variable name} of the secrets of `env` (default: this process's)."""
    env = os.environ if env is None else env
    found = {v: k for k, v in env.items() if is_secret(k) and len(v.strip()) >= MIN_LENGTH}
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def _forms(value: str) -> list[str]:
    """Return the value, its hex, and its base64 inside any longer base64 text (3 alignments)."""
    raw = value.encode()
    forms = [value, raw.hex()]
    for pad in range(3):
        core = base64.b64encode(b"\0" * pad + raw).decode()[3:-4]
        if len(core) >= MIN_LENGTH:
            forms += [core, core.replace("+", "-").replace("/", "_")]
    return forms


def find_secret(text: str) -> str | None:
    """Return the name of a secret whose value `text` carries (plain, %-encoded, hex or base64)."""
    variants = [text, unquote_plus(text)]
    variants += [v.lower() for v in variants]
    for value, name in secret_values().items():
        if any(form in v for form in _forms(value) for v in variants):
            return name
    return None


def mask(text: str) -> str:
    """Replace every secret value in `text` with `[secret NAME]`."""
    for value, name in secret_values().items():
        if value in text:
            text = text.replace(value, f"[secret {name}]")
    return text


def masked(call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Wrap a tool coroutine so neither its result nor its error message carries a secret.

    The result is text, or (text, artifact) of which the text is masked.
    """

    @wraps(call)
    async def wrapper(**kwargs: Any) -> Any:
        try:
            result = await call(**kwargs)
            if isinstance(result, tuple):
                return (mask(result[0]), *result[1:])
            return mask(result)
        except Exception as exc:
            text = str(exc)
            if mask(text) == text:
                raise
            try:
                safe = type(exc)(mask(text))
            except Exception:  # noqa: BLE001 - an exception type that takes other arguments
                safe = RuntimeError(mask(text))
            raise safe from None

    return wrapper
