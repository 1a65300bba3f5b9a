"""A LangSmith-compatible sink on 127.0.0.1: records what the SDK sends; can answer with errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROJECT_ID = "11111111-1111-4111-8111-111111111111"
INGEST = {
    "use_multipart_endpoint": False,
    "size_limit": 100,
    "size_limit_bytes": None,
    "scale_up_qsize_trigger": 1000,
    "scale_up_nthreads_limit": 16,
    "scale_down_nempty_trigger": 4,
}


class FakeLangSmith:
    """Enough of the LangSmith API for the SDK: /info, /sessions, /runs/batch, /feedback.

    Feedback is kept by id: PATCH /feedback/{id} changes a stored one (404 when unknown).
    `fail(path_prefix, *statuses)` answers the next POSTs to that path with those statuses.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.stored: dict[str, dict] = {}
        self.failures: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, payload, status: int = 200) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                with owner.lock:
                    owner.requests.append(("GET", self.path, b""))
                if self.path.startswith("/info"):
                    return self.reply({"version": "0.10.0", "batch_ingest_config": INGEST})
                if self.path.startswith("/sessions"):
                    project = {"id": PROJECT_ID, "name": "memento-test", "tenant_id": PROJECT_ID}
                    return self.reply([{**project, "reference_dataset_id": None}])
                return self.reply({})

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with owner.lock:
                    owner.requests.append(("POST", self.path, body))
                    queued = owner.failures.get(self.path)
                    status = queued.pop(0) if queued else 200
                    if status == 200 and self.path == "/feedback":
                        item = json.loads(body)
                        owner.stored[str(item.get("id"))] = item
                if status != 200:
                    return self.reply({"detail": f"status {status}"}, status)
                return self.reply({})

            def do_PATCH(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with owner.lock:
                    owner.requests.append(("PATCH", self.path, body))
                    if self.path.startswith("/feedback/"):
                        found = owner.stored.get(self.path.removeprefix("/feedback/"))
                        if found is None:
                            return self.reply({"detail": "Feedback not found"}, 404)
                        found.update(json.loads(body))
                return self.reply({})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next POSTs to `path` with these HTTP statuses."""
        with self.lock:
            self.failures[path] = list(statuses)

    def runs(self) -> dict[str, dict]:
        """Return every run posted, by id, with its later patches merged in."""
        runs: dict[str, dict] = {}
        for method, path, body in list(self.requests):
            if method == "POST" and path == "/runs/batch":
                batch = json.loads(body)
                for run in (batch.get("post") or []) + (batch.get("patch") or []):
                    merged = runs.setdefault(run["id"], {})
                    extra = {**merged.get("extra", {}), **(run.get("extra") or {})}
                    merged.update({k: v for k, v in run.items() if v is not None})
                    merged["extra"] = extra
        return runs

    def roots(self) -> list[dict]:
        """Return the root runs (no parent), in the order first posted."""
        return [r for r in self.runs().values() if not r.get("parent_run_id")]

    def feedback(self) -> list[dict]:
        """Return the feedback posted (as first sent)."""
        return [json.loads(b) for m, p, b in self.requests if m == "POST" and p == "/feedback"]
