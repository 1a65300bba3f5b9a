"""LangSmith tracing of runs: names, tags and metadata per run, the reward as feedback.

Tracing is on when `LANGSMITH_TRACING=true` (or `LANGCHAIN_TRACING_V2=true`) and an API key is set.
Asked for without a key, it is switched off for the run: nothing is sent and nothing printed.
Traces go out in the background; at the end of a run they are flushed for at most
`MEMENTO_TRACE_FLUSH_TIMEOUT` seconds (default 5), so an unreachable endpoint never holds up exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.langsmith_client import client, env, quiet_langsmith_logs
from memento_graph.settings import SETTINGS

_TRUE = {"1", "true", "yes", "on"}
FEEDBACK_KEY = "reward"
ROLES = {
    "plan": "planner",
    "execute_with_tools": "executor",
    "synthesize": "synthesizer",
    "write_memory": "judge",
}
"""Names of the model calls in traces, by the node that makes them."""


def requested() -> bool:
    """Tell whether the environment asks for LangSmith tracing."""
    return env("LANGSMITH_TRACING", "LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2").lower() in _TRUE


def active() -> bool:
    """Tell whether runs are traced: tracing asked for and an API key given."""
    return requested() and bool(env("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"))


def flush_timeout() -> float:
    """Return the most seconds a run waits for its traces to be sent (5 when unset or not a number).

    Lenient on purpose: it is read after the run, in the sender thread too, and must not fail it.
    """
    try:
        return max(0.0, SETTINGS.trace_flush_timeout)
    except MementoError:
        return 5.0


def case_metadata(outputs: dict[str, Any] | None) -> dict[str, Any]:
    """Return the metadata a run's outputs give: ids of the retrieved cases, the reward."""
    if not isinstance(outputs, dict):
        return {}
    found: dict[str, Any] = {}
    if isinstance(outputs.get("cases"), list):
        found["case_ids"] = [c.get("id") for c in outputs["cases"] if isinstance(c, dict)]
    if outputs.get("reward") is not None:
        found["reward"] = outputs["reward"]
    if outputs.get("case_id"):
        found["case_id"] = outputs["case_id"]
    return found


def _tracer_class() -> type:
    from langchain_core.tracers.langchain import LangChainTracer

    class MementoTracer(LangChainTracer):
        """A LangChainTracer that copies case ids and the reward from outputs into metadata."""

        def _on_chat_model_start(self, run: Any) -> None:
            node = run.extra.get("metadata", {}).get("langgraph_node", "")
            model = run.extra.get("metadata", {}).get("ls_model_name") or run.name
            run.name = f"{ROLES.get(node, node or 'model')} ({model})"
            super()._on_chat_model_start(run)

        def _on_chain_end(self, run: Any) -> None:
            extra = case_metadata(run.outputs)
            if extra:
                run.extra.setdefault("metadata", {}).update(extra)
            super()._on_chain_end(run)

    return MementoTracer


class Trace:
    """The tracing of one run (or resume) of a thread; does nothing when tracing is off."""

    def __init__(
        self, context: Context, thread_id: str, kind: str = "run", run_id: Any = None
    ) -> None:
        """Prepare the trace of one `kind` (run or resume) of `thread_id`.

        `run_id` is the root run's id when someone else chose it (LangGraph's server).
        """
        self.context = context
        self.thread_id = thread_id
        self.kind = kind
        self.active = active()
        self.run_id = (run_id or uuid.uuid4()) if self.active else None
        self._client: Any = None

    def config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Return `config` with the run name, tags, metadata, and the tracer when tracing."""
        ctx = self.context
        config = {
            **config,
            "run_name": f"memento {self.kind}",
            "tags": [*config.get("tags", []), "memento", f"policy:{ctx.policy}", self.kind],
            "metadata": {
                **config.get("metadata", {}),
                "thread_id": self.thread_id,
                "policy": ctx.policy,
                "user": ctx.user,
                "top_k": ctx.top_k,
                "planner_model": ctx.planner_model,
                "executor_model": ctx.executor_model,
                "judge_model": ctx.judge_model,
            },
        }
        if self.active:
            os.environ.setdefault("LANGSMITH_USE_DAEMON", "true")  # never block exit on sending
            quiet_langsmith_logs()
            self._client = client()
            config["run_id"] = self.run_id
            config["callbacks"] = [_tracer_class()(client=self._client)]
        return config

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Run the graph inside: switches LangSmith off when it was asked for without a key."""
        if self.active or not requested():
            yield
            return
        from langsmith import tracing_context

        with tracing_context(enabled=False):
            yield

    async def finish(self, reward: float | None, rationale: str | None = None) -> None:
        """Post the reward as feedback on the root run and flush, waiting a bounded time."""
        if not self.active or self._client is None:
            return
        done = threading.Event()
        sender = threading.Thread(
            target=self._send, args=(reward, rationale, done), daemon=True, name="memento-trace"
        )
        sender.start()
        await asyncio.to_thread(done.wait, flush_timeout())

    def _send(self, reward: float | None, rationale: str | None, done: threading.Event) -> None:
        budget = flush_timeout()
        try:
            self._client.flush(timeout=budget / 2)  # the runs first, then their feedback
            if reward is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._client.create_feedback(
                        run_id=self.run_id,
                        trace_id=self.run_id,
                        session_id=self._project_id(),
                        key=FEEDBACK_KEY,
                        score=reward,
                        comment=rationale,
                        feedback_id=feedback_id(self.run_id),
                        source_info={"source": "judge"},
                        stop_after_attempt=2,
                    )
                self._client.flush(timeout=budget / 2)
        except Exception as exc:  # noqa: BLE001 - tracing never breaks a run
            logging.getLogger("langsmith").warning("could not send the reward: %s", exc)
        finally:
            done.set()

    def _project_id(self) -> Any:
        """Return the id of the tracing project (feedback names it), or None if unknown."""
        return _project_id(self._client)


def _project_id(client: Any) -> Any:
    from langsmith.utils import get_tracer_project

    try:
        return client.read_project(project_name=get_tracer_project()).id
    except Exception:  # noqa: BLE001 - feedback without a project still works on most servers
        return None


def feedback_id(run_id: Any) -> uuid.UUID:
    """Return the id of a run's reward feedback: the judge's, replaced by the user's verdict."""
    return uuid.uuid5(uuid.UUID(str(run_id)), FEEDBACK_KEY)


def send_user_feedback(run_id: Any, reward: float, note: str | None) -> None:
    """Set the reward feedback of a traced run to the user's score and note (`memento feedback`).

    Replaces the judge's feedback (same id) so LangSmith shows one reward, the user's; creates it
    when the judge gave none. Waits at most MEMENTO_TRACE_FLUSH_TIMEOUT; failures are warnings.
    """
    if not active() or not run_id:
        return
    quiet_langsmith_logs()
    sender = client()
    comment = f"user: {note}" if note else "user feedback"
    done = threading.Event()

    def send() -> None:
        from langsmith.utils import LangSmithNotFoundError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    sender.update_feedback(feedback_id(run_id), score=reward, comment=comment)
                except LangSmithNotFoundError:  # the judge gave no reward: create it
                    sender.create_feedback(
                        run_id=run_id, key=FEEDBACK_KEY, score=reward, comment=comment,
                        feedback_id=feedback_id(run_id), session_id=_project_id(sender),
                        source_info={"source": "user"}, stop_after_attempt=2,
                    )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - LangSmith never fails the command
            logging.getLogger("langsmith").warning("could not send the feedback: %s", exc)
        finally:
            done.set()

    threading.Thread(target=send, daemon=True, name="memento-feedback").start()
    done.wait(flush_timeout())
