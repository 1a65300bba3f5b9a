"""MCP server `media`: ask an OpenAI-compatible vision model about an image, transcribe audio.

Configured by `MEMENTO_VISION_MODEL` and/or `MEMENTO_TRANSCRIBE_MODEL`; the endpoint is
`MEMENTO_VISION_BASE_URL` / `MEMENTO_TRANSCRIBE_BASE_URL`, else `MEMENTO_MEDIA_BASE_URL`, else
`OPENAI_BASE_URL` (key `MEMENTO_MEDIA_API_KEY` or `OPENAI_API_KEY`).
Only the configured tools are offered.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from typing import Any

import httpx

from memento_graph.mcp_servers.common import (
    ToolError,
    clip,
    new_server,
    read_roots,
    safe_path,
    serve,
)
from memento_graph.settings import SETTINGS

mcp = new_server("media")
MAX_BYTES = 25 * 1024 * 1024


def _endpoint(kind: str) -> tuple[str, dict[str, str]]:
    own = SETTINGS.vision_base_url if kind == "VISION" else SETTINGS.transcribe_base_url
    base = own or SETTINGS.media_base_url or os.environ.get("OPENAI_BASE_URL")
    key = SETTINGS.media_api_key or os.environ.get("OPENAI_API_KEY", "")
    return (base or "https://api.openai.com/v1").rstrip("/"), {"authorization": f"Bearer {key}"}


def _read(path: str) -> tuple[bytes, str]:
    target = safe_path(path, read_roots())
    if not target.is_file():
        raise ToolError(f"no such file: {path}")
    if target.stat().st_size > MAX_BYTES:
        raise ToolError(f"file too large (limit {MAX_BYTES} bytes)")
    mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return target.read_bytes(), mime


async def _post(
    kind: str,
    path: str,
    *,
    json: dict[str, Any] | None = None,
    data: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> dict:
    base, headers = _endpoint(kind)
    try:
        async with httpx.AsyncClient(timeout=SETTINGS.media_timeout) as client:
            resp = await client.post(
                f"{base}{path}", headers=headers, json=json, data=data, files=files
            )
            resp.raise_for_status()
            return resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ToolError(f"media model request failed: {type(exc).__name__}: {exc}") from None


async def describe_image(path: str, question: str = "Describe this image in detail.") -> str:
    """Answer a question about a local image (PNG, JPEG, GIF, WebP) with the vision model."""
    data, mime = _read(path)
    if not mime.startswith("image/"):
        raise ToolError(f"not an image: {path} ({mime})")
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    body = {
        "model": SETTINGS.vision_model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": question},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }
    reply = await _post("VISION", "/chat/completions", json=body)
    return clip(str(reply["choices"][0]["message"].get("content") or ""), 20_000)


async def transcribe_audio(path: str, language: str = "") -> str:
    """Transcribe a local audio file (mp3, wav, m4a, ogg, webm) to text."""
    data, mime = _read(path)
    form = {"model": SETTINGS.transcribe_model}
    if language:
        form["language"] = language
    reply = await _post(
        "TRANSCRIBE",
        "/audio/transcriptions",
        data=form,
        files={"file": (os.path.basename(path), data, mime)},
    )
    return clip(str(reply.get("text", "")), 50_000)


def main() -> None:
    """Serve the media tools whose model is set (MEMENTO_VISION_MODEL, MEMENTO_TRANSCRIBE_MODEL)."""
    if SETTINGS.vision_model:
        mcp.tool()(describe_image)
    if SETTINGS.transcribe_model:
        mcp.tool()(transcribe_audio)
    serve(mcp)


if __name__ == "__main__":
    main()
