"""Writing back to a memory: episodes, cases, the credit and learning of shown cases, lifecycle, feedback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from memento_graph.errors import MementoError
from memento_graph.killpoints import reached
from memento_graph.memory import lesson_votes, lifecycle, lineage
from memento_graph.memory.base import MemoryBase, public
from memento_graph.memory.credit import clean_attribution, influence, plan_similarity, share_by_plan
from memento_graph.memory.policy import rank_weights
from memento_graph.memory.schema import CaseRecord, Provenance, check_reward, new_case_id, now_iso
from memento_graph.memory.trust import CERTAIN, reward_confidence


class WriteBack(MemoryBase):
    """Memory's write side: record an episode, write its case, credit and learn, take feedback."""

    def complete_episode(
        self, *, thread_id: str, task: str, plan: str, answer: str | None, reward: float, judge: dict,
        retrieved: list[dict], policy: str, models: dict, status: str = "done",
        tokens: dict | None = None, attribution: dict | None = None, lesson: str | None = None,
    ) -> CaseRecord:  # fmt: skip
        """Record an episode, write (or update) its case, credit the shown cases, learn, run lifecycle.

        `attribution`: the planner's own account, `{"followed": [case ids], "avoided": [case ids]}`;
        the judge record's source and confidence weigh the reward's evidence (see `trust.py`). The
        lessons shown with `retrieved` cases get this episode's vote (see lesson_votes.py).
        """
        reward = check_reward(reward)
        confidence = reward_confidence(judge)
        attribution = clean_attribution(attribution)
        with self.lock, self.bank.exclusive():  # one writer across processes too
            done = self.store.episode(thread_id)
            if done and done.get("case_id"):
                existing = self.get_case(done["case_id"])
                if existing is not None:
                    return existing
            vec = self.embed([task])[0]
            before = self._shown(vec, retrieved)
            similarity, follow = self._follow(plan, before, attribution)
            derived = lineage.parent_of(before, follow, similarity[0, 1:])
            case = self._write_case(
                vec, thread_id, task, plan, answer, reward, judge, models, lesson, derived
            )
            reached("case_written")  # a test hook (killpoints.py)
            shown = self._shown(vec, retrieved)
            if [c["plan"] for c in shown] != [c["plan"] for c in before]:
                similarity, follow = self._follow(plan, shown, attribution)  # it rewrote one
            credit = self._learn(vec, shown, plan, reward, confidence, (similarity, follow))
            if derived is not None and case.get("derived_from") == derived[0]["id"]:
                lineage.add_descendant(self.bank, derived[0], case["id"])
            episode = {
                "thread_id": thread_id, "user": self.user, "task": task, "plan": plan,
                "answer": answer, "reward": reward, "judge_source": judge.get("source"),
                "judge_model": judge.get("model"), "judge_rationale": judge.get("rationale"),
                "policy": policy, "models": models, "status": status, "case_id": case["id"],
                "tokens": tokens, "task_embedding": vec,
                "reward_confidence": confidence, "attribution": attribution,
            }  # fmt: skip
            rows = [
                {"case_id": c["id"], "user": self.user, "rank": c["rank"], "score": c.get("score"),
                 "similarity": c["similarity"], "policy": policy, "credit": float(cr)}
                for c, cr in zip(shown, credit, strict=True)
            ]  # fmt: skip
            lesson_votes.vote(self.store, self.user, thread_id, retrieved or [], reward)
            self.store.record(episode, rows)
            reached("episode_recorded")
            self._lifecycle([c["id"] for c in shown])
            return self.get_case(case["id"]) or public(case)

    def record_episode(
        self, *, thread_id: str, task: str, plan: str, answer: str | None, reward: float | None,
        judge: dict, policy: str, models: dict, status: str = "done", tokens: dict | None = None,
    ) -> None:  # fmt: skip
        """Record an episode that must not become a case (reward unknown, nothing executed).

        No case is written and no shown case is credited; `feedback` can still set its reward.
        """
        reward = None if reward is None else check_reward(reward)
        episode = {
            "thread_id": thread_id, "user": self.user, "task": task, "plan": plan,
            "answer": answer, "reward": reward, "judge_source": judge.get("source"),
            "judge_model": judge.get("model"), "judge_rationale": judge.get("rationale"),
            "policy": policy, "models": models, "status": status, "case_id": None,
            "tokens": tokens, "task_embedding": None,
            "reward_confidence": None if reward is None else reward_confidence(judge),
        }  # fmt: skip
        with self.lock:
            self.store.record(episode, [])

    def _write_case(
        self, vec: np.ndarray, thread_id: str, task: str, plan: str, answer: str | None,
        reward: float, judge: dict, models: dict, lesson: str | None = None,
        derived: tuple[Mapping[str, Any], float] | None = None,
    ) -> CaseRecord:  # fmt: skip
        """Write the episode's case (or revise its near-duplicate); `derived`: its plan's parent."""
        now = now_iso()
        provenance: Provenance = {"thread_id": thread_id, "created_at": now, "updated_at": now,
                                  "embedder": self.embedder.id, "models": dict(models or {})}  # fmt: skip
        dup = lifecycle.find_duplicate(self.bank, vec, task, self.near_duplicate)
        fresh: CaseRecord = {
            "id": new_case_id() if dup is None else dup["id"], "task": task, "plan": plan,
            "answer": answer, "reward": reward, "status": "active", "lesson": lesson,
            "judge": {"source": judge.get("source"), "model": judge.get("model"),
                      "rationale": judge.get("rationale")},
            "provenance": provenance, "revisions": 0,
        }  # fmt: skip
        if derived is not None and derived[0]["id"] != fresh["id"]:
            fresh["derived_from"], fresh["derived_similarity"] = derived[0]["id"], derived[1]
        if dup is None:
            case = fresh
        elif dup["provenance"].get("thread_id") == thread_id:  # written by a killed attempt
            provenance["created_at"] = dup["provenance"].get("created_at")
            case = {**fresh, "task": dup["task"], "revisions": dup.get("revisions", 0)}
        elif reward >= dup["reward"]:  # the new plan did at least as well: it replaces the old one
            provenance["created_at"] = dup["provenance"].get("created_at")
            case = {**fresh, "task": dup["task"], "revisions": dup.get("revisions", 0) + 1}
        else:  # keep the better plan, note the revision
            case = {**dup, "revisions": dup.get("revisions", 0) + 1}
            case["provenance"] = {**dup["provenance"], "updated_at": now}
        vectors = (
            vec[None, :] if dup is None or case["task"] == task else self.embed([case["task"]])
        )
        self.bank.upsert([case], vectors, new=dup is None)
        return case

    def _shown(self, vec: np.ndarray, retrieved: list[dict]) -> list[dict[str, Any]]:
        """Return the retrieved cases that still exist, in rank order, with embeddings and similarity."""
        order = sorted(retrieved or [], key=lambda r: r.get("rank") or 0)
        found = {c["id"]: c for c in self.bank.get([r["id"] for r in order], embeddings=True)}
        shown = []
        for rank, r in enumerate((r for r in order if r["id"] in found), start=1):
            case = found[r["id"]]
            sim = float(np.dot(case["embedding"], vec))
            shown.append(
                {**case, "rank": r.get("rank") or rank, "score": r.get("score"), "similarity": sim}
            )
        return shown

    def _follow(
        self, plan: str, shown: list[dict[str, Any]], attribution: dict | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the plans' step similarity and how much the plan followed each shown case.

        The similarity matrix has the plan first, then the shown cases'; the follow is
        `credit.influence` of the similarity and the planner's attribution.
        """
        if not shown:
            return np.ones((1, 1)), np.zeros(0)
        similarity = plan_similarity(self.embed, [plan, *(c["plan"] for c in shown)])
        position = {c["id"]: i for i, c in enumerate(shown)}
        named = {k: [position[c] for c in (attribution or {}).get(k, []) if c in position]
                 for k in ("followed", "avoided")}  # fmt: skip
        return similarity, influence(similarity[0, 1:], rank_weights(len(shown)), **named)

    def _learn(
        self, vec: np.ndarray, shown: list[dict[str, Any]], plan: str, reward: float,
        confidence: float = CERTAIN, follows: tuple[np.ndarray, np.ndarray] | None = None,
        attribution: dict | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Credit each shown case for the reward and train the learned policy on it.

        The credit is the responsibility for the reward times the reward's confidence: the weight of
        this episode's evidence in every case's record and in the policy's update. `follows`: the
        plans' similarity and follow (`_follow`), computed from `attribution` when not given.
        """
        if not shown:
            return np.zeros(0)
        similarity, follow = follows or self._follow(plan, shown, attribution)
        policy = self.learned_policy(len(vec))
        with self.store.hold_state(self.policy_key) as held:  # no other process learns meanwhile
            if held.version != policy.version:
                policy.load(held.arrays(), held.version)
            policy.version = None  # a step that fails before it is saved is reloaded away
            usage = self.store.usage([c["id"] for c in shown])
            prior = policy.prior(vec, shown)
            alpha, beta = policy.posterior(prior, [usage[c["id"]] for c in shown])
            responsibility = policy.credit(alpha / (alpha + beta), reward, follow)
            credit = share_by_plan(responsibility, similarity[1:, 1:]) * confidence
            policy.train(vec, shown, reward, credit)
            policy.version = held.save(policy.state())
        return credit

    def _lifecycle(self, shown_ids: list[str]) -> None:
        lifecycle.check_quarantine(self.bank, self.store, shown_ids)
        if lifecycle.sweep_due(self.store.episode_count(self.user)):
            lifecycle.sweep_quarantine(self.bank, self.store)
        lifecycle.enforce_capacity(self.bank, self.store, self.max_cases)

    # -- feedback --------------------------------------------------------------------------------------
    def feedback(
        self, thread_id: str, reward: float, note: str | None = None
    ) -> CaseRecord | dict[str, Any]:
        """Override an episode's reward with the user's: updates the episode, its case and the policy.

        Returns the episode's case as it is now, or {} when the episode has none.
        """
        reward = check_reward(reward)
        with self.lock, self.bank.exclusive():
            episode = self.store.episode(thread_id)
            if episode is None or episode["user"] != self.user:
                raise MementoError(f"no episode for thread {thread_id} (user {self.user})")
            rationale = note or f"user feedback: reward {reward:g}"
            self.store.update_episode(
                thread_id, reward=reward, judge_source="user", judge_model=None,
                judge_rationale=rationale, note=note, reward_confidence=CERTAIN,
            )  # fmt: skip
            lesson_votes.revote(self.store, thread_id, reward)
            case = self.get_case(episode["case_id"]) if episode.get("case_id") else None
            judge = {"judge_source": "user", "judge_model": "", "judge_rationale": rationale}
            if case and case["provenance"].get("thread_id") == thread_id:
                self.bank.update(case["id"], reward=reward, updated_at=now_iso(), **judge)
            elif case and reward > case["reward"]:  # this episode's plan now beats the case's plan
                self.bank.update(
                    case["id"], plan=episode["plan"], answer=episode.get("answer"), reward=reward,
                    lesson="",  # the lesson was about the plan replaced
                    thread_id=thread_id, updated_at=now_iso(), **judge,
                )  # fmt: skip
            vec = episode["task_embedding"]
            if vec is not None and episode["retrieved"]:
                shown = self._shown(
                    vec, [{"id": r["case_id"], "rank": r["rank"]} for r in episode["retrieved"]]
                )
                credit = self._learn(
                    vec, shown, episode["plan"] or "", reward, CERTAIN,
                    attribution=episode.get("attribution"),
                )  # fmt: skip
                self.store.set_credits(
                    thread_id, {c["id"]: cr for c, cr in zip(shown, credit, strict=True)}
                )
                self._lifecycle([c["id"] for c in shown])
            return (self.get_case(case["id"]) if case else None) or {}
