"""Run eval jobs on the real agent: one checkpointer and toolbox, a context per arm and seed.

All arms share the eval's own data directory (`<out>/home`), apart from the user's: each
(arm, seed) is its own `user` namespace, so seeds start with an empty case bank, the memory arm's
cases accumulate across iterations of a seed, and the control arm (policy `none`) neither
retrieves nor writes cases. Thread ids are stable, so a rerun resumes a thread cut short. The
tool catalogue is cached in the user's home, so an eval into a new `--out` starts no tool server
until a plan names a tool.
"""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.eval.harness import CONTROL_ARM, EvalConfig, Job

# Endpoint errors that fail every item alike: stop the eval (resumable) instead of scoring them.
FATAL = ("unreachable", "auth", "not_found")


def arm_context(base: Context, config: EvalConfig, arm: str, seed: int) -> Context:
    """Return the context of one arm and seed: its policy, namespace and the eval's home."""
    policy = "none" if arm == CONTROL_ARM else config.memory
    return dataclasses.replace(
        base,
        policy=policy,
        user=f"eval-{arm}-s{seed}",
        home=str(Path(config.out) / "home"),
        approve_plan=False,
    )


class AgentPool:
    """Opens the agent once and runs jobs with the context of their arm and seed."""

    def __init__(self, config: EvalConfig, base: Context, run_id: str) -> None:
        """Prepare (nothing is opened until `async with`)."""
        self.config = config
        self.user_home = Path(base.home).expanduser()
        self.base = arm_context(base, config, "memory", 0)
        self.run_id = run_id
        self._stack = AsyncExitStack()
        self._agent: Any = None
        self._agents: dict[tuple[str, int], Any] = {}

    async def __aenter__(self) -> AgentPool:
        """Open the checkpointer and the tools (their catalogue cached in the user's home)."""
        from memento_graph.agent import open_agent

        opening = open_agent(self.base, catalogue_home=self.user_home)
        self._agent = await self._stack.enter_async_context(opening)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the checkpointer and the tools."""
        await self._stack.aclose()

    def agent(self, arm: str, seed: int) -> Any:
        """Return the agent bound to the context of one arm and seed."""
        key = (arm, seed)
        if key not in self._agents:
            ctx = arm_context(self.base, self.config, arm, seed)
            self._agents[key] = self._agent.with_context(ctx)
        return self._agents[key]

    async def __call__(self, job: Job) -> Any:
        """Run (or resume, or read back) the job's thread and return its outcome."""
        agent = self.agent(job.arm, job.seed)
        thread_id = job.thread_id(self.run_id)
        try:
            outcome = await self._drive(agent, job, thread_id)
        except MementoError:
            raise
        except Exception as exc:  # noqa: BLE001 - one item's crash is its failure, not the eval's
            return {
                "thread_id": thread_id,
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "error_kind": "crash",
                "tokens": await _spent(agent, thread_id),
            }
        if outcome.status == "failed" and outcome.error_kind in FATAL:
            raise MementoError(f"{outcome.error}; rerun the same command to resume")
        return outcome

    @staticmethod
    async def _drive(agent: Any, job: Job, thread_id: str) -> Any:
        snapshot = await agent.graph.aget_state({"configurable": {"thread_id": thread_id}})
        if snapshot.values and snapshot.next:
            return await agent.resume(thread_id)
        if snapshot.values:  # finished before the last kill, not yet in results.jsonl
            return await agent.outcome(thread_id)
        item = job.item
        return await agent.run(
            item.question, files=item.files, ground_truth=item.ground_truth, thread_id=thread_id
        )


async def _spent(agent: Any, thread_id: str) -> dict[str, int]:
    """Return the tokens a crashed thread's checkpoint holds (zeros when there is none)."""
    try:
        snapshot = await agent.graph.aget_state({"configurable": {"thread_id": thread_id}})
        tokens = dict((snapshot.values or {}).get("tokens") or {})
    except Exception:  # noqa: BLE001 - no checkpoint to read: nothing known spent
        tokens = {}
    return {"input": 0, "output": 0, **{k: int(v) for k, v in tokens.items()}}
