"""A scripted OpenAI-compatible HTTP server for offline tests.

Tests start it on 127.0.0.1 and point `OPENAI_BASE_URL` at it, so the real langchain-openai
client path is exercised. Replies come from rules matched in order against each request:

    llm.rule(when="Eiffel", reply=Reply(content='{"plan": []}'))
    llm.rule(when=lambda req: has_tools(req), reply=Reply(tool_calls=[("add", {"a": 1})]))

Every request is logged with its start and end times (`llm.log`) so tests can assert what the
model was asked and whether calls overlapped in time.

A reply may end with any `finish_reason` ("length": cut at the limit) and, when streamed, come
in paced pieces or stall after its first piece (`chunks`, `chunk_delay`, `stall`; such a stream
ends as OpenAI's and llama.cpp's do, with the usage in a last chunk of its own); streams the
client hung up on are listed in `llm.aborted`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Predicate = Callable[[dict], bool]


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up (a timed-out stream) is expected here, not an error to print.

    socketserver prints such errors to stderr from a server thread, which landed in whatever
    output a later test was capturing.
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset
            super().handle_error(request, client_address)


@dataclass
class Reply:
    """One scripted response."""

    content: str | None = None
    tool_calls: list[tuple[str, dict]] = field(default_factory=list)
    latency: float = 0.0
    status: int = 200
    usage: tuple[int, int] = (10, 5)
    finish_reason: str | None = None
    """Overrides `stop` / `tool_calls`, e.g. "length" for a reply cut at the length limit."""
    chunks: int = 1
    """When streamed: the content is sent in this many pieces, `chunk_delay` seconds apart
    (not streamed: the whole reply comes after `chunks * chunk_delay + stall` seconds)."""
    chunk_delay: float = 0.0
    stall: float = 0.0
    """When streamed: seconds of silence after the first piece (only SSE keep-alive comments,
    which are not chunks), like a stuck endpoint that keeps its connection open."""

    @property
    def paced(self) -> bool:
        """Tell whether a streamed reply is sent piece by piece rather than at once."""
        return self.chunks > 1 or self.chunk_delay > 0 or self.stall > 0


@dataclass
class Rule:
    """A reply (or a function of the request giving one) used while `when` matches."""

    when: Predicate
    reply: Reply | Callable[[dict], Reply]
    times: int | None = None
    name: str = ""
    used: int = 0


def request_text(req: dict) -> str:
    """Return all message contents of a request joined, for substring matching."""
    parts = []
    for msg in req.get("messages", []):
        content = msg.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(str(content or ""))
    return "\n".join(parts)


def system_text(req: dict) -> str:
    """Return the system prompt of a request."""
    return "\n".join(
        str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "system"
    )


def last_user(req: dict) -> str:
    """Return the last user message of a request."""
    users = [m for m in req.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else ""


def has_tools(req: dict) -> bool:
    """Tell whether the request offers tools (an executor call)."""
    return bool(req.get("tools"))


def wants_json(req: dict) -> bool:
    """Tell whether the request asks for a JSON-schema response (planner or judge)."""
    return bool(req.get("response_format"))


def after_tool(req: dict) -> bool:
    """Tell whether the last message is a tool result."""
    msgs = req.get("messages", [])
    return bool(msgs) and msgs[-1].get("role") == "tool"


class ScriptedLLM:
    """The server: rules, a request log, start and stop."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.log: list[dict[str, Any]] = []
        self.arrivals: list[dict[str, Any]] = []  # logged on arrival, before any latency
        self.aborted: list[dict[str, Any]] = []  # streams the client hung up on mid-reply
        self.lock = threading.Lock()
        self.default = Reply(content="(no rule matched)")
        self._server: ThreadingHTTPServer | None = None

    # -- scripting -----------------------------------------------------------------------
    def rule(
        self,
        when: str | Predicate,
        reply: Reply | Callable[[dict], Reply] | str,
        times: int | None = None,
        name: str = "",
    ) -> Rule:
        """Add a rule; `when` is a substring of the request text or a predicate."""
        pred = when if callable(when) else (lambda req, s=when: s in request_text(req))
        rep = Reply(content=reply) if isinstance(reply, str) else reply
        r = Rule(pred, rep, times, name or (when if isinstance(when, str) else ""))
        with self.lock:
            self.rules.append(r)
        return r

    def reset(self) -> None:
        """Forget rules and the log."""
        with self.lock:
            self.rules.clear()
            self.log.clear()
            self.arrivals.clear()
            self.aborted.clear()

    def requests(self, where: str | Predicate | None = None) -> list[dict]:
        """Return logged request bodies, optionally filtered like a rule."""
        with self.lock:
            entries = list(self.log)
        if where is None:
            return [e["body"] for e in entries]
        pred = where if callable(where) else (lambda req, s=where: s in request_text(req))
        return [e["body"] for e in entries if pred(e["body"])]

    def _pick(self, body: dict) -> tuple[Reply, str]:
        with self.lock:
            for r in self.rules:
                if (r.times is None or r.used < r.times) and r.when(body):
                    r.used += 1
                    rep = r.reply(body) if callable(r.reply) else r.reply
                    return rep, r.name
        return self.default, "default"

    # -- serving -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Return the OpenAI base URL (with /v1)."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self, port: int = 0) -> ScriptedLLM:
        """Start serving on 127.0.0.1 in a daemon thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # silence
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/").endswith("/embeddings"):
                    return self._send(200, owner._embeddings(body))
                start = time.monotonic()
                reply, name = owner._pick(body)
                with owner.lock:
                    owner.arrivals.append({"body": body, "rule": name, "start": start})
                if reply.latency:
                    time.sleep(reply.latency)
                entry = {"body": body, "rule": name, "start": start, "end": time.monotonic()}
                with owner.lock:
                    owner.log.append(entry)
                if reply.status != 200:
                    err = {"error": {"message": f"scripted {reply.status}", "type": "scripted"}}
                    return self._send(reply.status, err)
                if body.get("stream"):
                    return self._stream(body, reply)
                if reply.paced:  # not streamed: the whole reply comes when generation ends
                    time.sleep(reply.chunks * reply.chunk_delay + reply.stall)
                try:
                    return self._send(200, owner._completion(body, reply))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    with owner.lock:
                        owner.aborted.append({"body": body, "at": time.monotonic()})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict, reply: Reply) -> None:
                if reply.paced:
                    return self._paced(body, reply)
                full = owner._completion(body, reply)
                msg = full["choices"][0]["message"]
                delta: dict[str, Any] = {"role": "assistant", "content": msg.get("content")}
                if msg.get("tool_calls"):
                    delta["tool_calls"] = [
                        dict(tc, index=i) for i, tc in enumerate(msg["tool_calls"])
                    ]
                chunks = [  # the usage only in the last chunk, as real servers send it
                    {
                        **full,
                        "object": "chat.completion.chunk",
                        "usage": None,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    },
                    {
                        **full,
                        "object": "chat.completion.chunk",
                        "choices": [
                            {
                                "index": 0,
                                "delta": {},
                                "finish_reason": full["choices"][0]["finish_reason"],
                            }
                        ],
                    },
                ]
                data = (
                    b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks)
                    + b"data: [DONE]\n\n"
                )
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _paced(self, body: dict, reply: Reply) -> None:
                """Stream the reply in `chunks` pieces (chunked encoding), paced and stalled."""
                full = owner._completion(body, reply)
                msg = full["choices"][0]["message"]
                text = msg.get("content") or ""
                n = max(1, reply.chunks)
                size = -(-len(text) // n) or 1
                pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
                base = {**full, "object": "chat.completion.chunk", "usage": None}
                events = []
                for i, piece in enumerate(pieces):
                    delta: dict[str, Any] = {"content": piece}
                    if i == 0:
                        delta["role"] = "assistant"
                        if msg.get("tool_calls"):
                            delta["tool_calls"] = [
                                dict(tc, index=j) for j, tc in enumerate(msg["tool_calls"])
                            ]
                    events.append(
                        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    )
                finish = full["choices"][0]["finish_reason"]
                events.append(
                    {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
                )
                # as OpenAI and llama.cpp do: the usage last, in a chunk with no choices
                events.append({**base, "usage": full["usage"], "choices": []})
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for i, event in enumerate(events):
                        if 0 < i <= len(pieces) and reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                        self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                        if i == 0 and reply.stall:
                            until = time.monotonic() + reply.stall
                            while time.monotonic() < until:
                                time.sleep(0.1)
                                self._chunk(b": keep-alive\n\n")
                    self._chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    with owner.lock:
                        owner.aborted.append({"body": body, "at": time.monotonic()})

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = _QuietServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @staticmethod
    def _completion(body: dict, reply: Reply) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
                for name, args in reply.tool_calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reply.finish_reason
                    or ("tool_calls" if reply.tool_calls else "stop"),
                }
            ],
            "usage": {
                "prompt_tokens": reply.usage[0],
                "completion_tokens": reply.usage[1],
                "total_tokens": sum(reply.usage),
            },
        }

    @staticmethod
    def _embeddings(body: dict) -> dict:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(str(text).lower().encode()).digest()
            vec = [(b - 128) / 128 for b in digest[:16]]
            data.append({"object": "embedding", "index": i, "embedding": vec})
        return {"object": "list", "data": data, "model": body.get("model", "scripted")}
