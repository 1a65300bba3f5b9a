"""`Memory`: one user's case bank, experience store and policy behind one thread-safe, synchronous API."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from memento_graph.errors import MementoError
from memento_graph.killpoints import reached
from memento_graph.memory import lesson_votes, lifecycle
from memento_graph.memory.case_bank import CaseBank, chroma_client
from memento_graph.memory.credit import (
    clean_attribution,
    influence,
    kinship,
    plan_similarity,
    share_by_plan,
)
from memento_graph.memory.embeddings import Embedder
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.policy import LearnedPolicy, rank_weights, similarity_select
from memento_graph.memory.schema import check_reward, label_of, new_case_id, now_iso
from memento_graph.memory.trust import CERTAIN, reward_confidence
from memento_graph.settings import SETTINGS

POLICIES = ("similarity", "learned", "none")
_STORES: dict[str, ExperienceStore] = {}
_STORES_LOCK = threading.Lock()


def experience_store(home: Path, url: str = "") -> ExperienceStore:
    """Return the (process-wide) experience store: in PostgreSQL at `url`, else the data directory's."""
    key = url or str((home / "experience.sqlite").resolve())
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = ExperienceStore(url=url) if url else ExperienceStore(Path(key))
        return _STORES[key]


def _above(case: dict[str, Any], floor: float | None) -> bool:
    return floor is None or case["similarity"] >= floor


def public(case: dict[str, Any]) -> dict[str, Any]:
    """Return a case without its embedding (fit for JSON)."""
    return {k: v for k, v in case.items() if k != "embedding"}


class Memory:
    """The learning memory of one user: retrieve cases, write back episodes, learn from rewards."""

    def __init__(
        self, home: Path, user: str, embedder: Embedder, *, near_duplicate: float | None = None,
        max_cases: int | None = None, exploration: str | None = None, candidates: int = 16,
        experience_url: str = "",
    ) -> None:  # fmt: skip
        self.home, self.user, self.embedder = Path(home), user, embedder
        self.bank = CaseBank(chroma_client(self.home / "casebank"), user, embedder)
        self.store = experience_store(self.home, experience_url)
        self.near_duplicate = (
            near_duplicate if near_duplicate is not None else SETTINGS.near_duplicate
        )
        self.max_cases = max_cases if max_cases is not None else SETTINGS.max_cases
        self.candidates = candidates
        self._exploration = exploration
        self._policy: LearnedPolicy | None = None
        self.lock = threading.RLock()

    # -- helpers ---------------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with this memory's embedder."""
        return self.embedder.embed(texts)

    @property
    def policy_key(self) -> str:
        """Key of the learned policy's persisted state."""
        return f"learned|{self.user}|{self.embedder.id}"

    def learned_policy(self, dim: int) -> LearnedPolicy:
        """Return the learned policy, (re)loaded when the stored state's version is not its own.

        Another process (a second server, a CLI run) that learned from its episodes saved a newer
        version: this one acts on it from its next selection.
        """
        with self.lock:
            if self._policy is None or self._policy.dim != dim:
                self._policy = LearnedPolicy(dim, self._exploration)
            if self.store.state_version(self.policy_key) != self._policy.version:
                version, state = self.store.load_versioned(self.policy_key)
                self._policy.load(state, version)
            return self._policy

    def _with_usage(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        usage = self.store.usage([c["id"] for c in cases])
        votes = lesson_votes.votes(self.store, cases)
        for case in cases:
            case["usage"] = usage[case["id"]]
            case["lesson_votes"] = votes.get(case["id"])
        return cases

    # -- retrieval -------------------------------------------------------------------------------------
    def retrieve(
        self, task: str, k: int, policy: str, *, floor: float | None = None,
        lesson_floor: float = lesson_votes.FLOOR,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Return up to k active cases for a task, best first, each with score, rank and label.

        Cases less similar than `floor` are never shown; a lesson less useful than `lesson_floor`
        is left out (its case is not). `rationale` is the judge's reason (None for imported cases).
        """
        if policy not in POLICIES:
            raise MementoError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")
        if policy == "none" or k <= 0 or not task.strip():
            return []
        vec = self.embed([task])[0]
        if policy == "similarity":
            found = self.bank.query(vec, k, status="active")
            chosen = similarity_select([c for c in found if _above(c, floor)], k)
        else:
            pool = self.bank.query(
                vec, max(self.candidates, 3 * k), status="active", embeddings=True
            )
            pool = [c for c in pool if _above(c, floor)]
            by_id = self.store.usage([c["id"] for c in pool])
            usage = [by_id[c["id"]] for c in pool]
            baseline = self.store.mean_reward(self.user, recent=lifecycle.RECENT)
            trial = [lifecycle.on_trial(c, u, baseline) for c, u in zip(pool, usage, strict=True)]
            kin = kinship(plan_similarity(self.embed, [c["plan"] for c in pool])) if pool else None
            chosen = self.learned_policy(len(vec)).select(vec, pool, usage, k, trial, kin)
        reached("retrieved")
        keys = ("id", "task", "plan", "answer", "reward", "score", "similarity", "status", "lesson")
        shown = [
            {**{key: c.get(key) for key in keys}, "rank": rank, "label": label_of(c["reward"]),
             "rationale": None if c["judge"].get("source") == "import" else c["judge"].get("rationale")}
            for rank, c in enumerate(chosen, start=1)
        ]  # fmt: skip
        lesson_votes.keep_useful(self.store, shown, lesson_floor)
        return shown

    # -- write-back ------------------------------------------------------------------------------------
    def complete_episode(
        self, *, thread_id: str, task: str, plan: str, answer: str | None, reward: float, judge: dict,
        retrieved: list[dict], policy: str, models: dict, status: str = "done",
        tokens: dict | None = None, attribution: dict | None = None, lesson: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
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
            case = self._write_case(
                vec, thread_id, task, plan, answer, reward, judge, models, lesson
            )
            reached("case_written")  # a test hook (killpoints.py)
            shown = self._shown(vec, retrieved)
            credit = self._learn(vec, shown, plan, reward, confidence, attribution)
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
    ) -> dict[str, Any]:  # fmt: skip
        now = now_iso()
        fresh = {
            "task": task, "plan": plan, "answer": answer, "reward": reward, "status": "active",
            "lesson": lesson,
            "judge": {k: judge.get(k) for k in ("source", "model", "rationale")},
            "provenance": {"thread_id": thread_id, "created_at": now, "updated_at": now,
                           "embedder": self.embedder.id, "models": dict(models or {})},
        }  # fmt: skip
        dup = lifecycle.find_duplicate(self.bank, vec, task, self.near_duplicate)
        if dup is None:
            case = {**fresh, "id": new_case_id(), "revisions": 0}
        elif dup["provenance"].get("thread_id") == thread_id:  # written by a killed attempt
            fresh["provenance"]["created_at"] = dup["provenance"]["created_at"]
            case = {**fresh, "id": dup["id"], "task": dup["task"], "revisions": dup["revisions"]}
        elif reward >= dup["reward"]:  # the new plan did at least as well: it replaces the old one
            fresh["provenance"]["created_at"] = dup["provenance"]["created_at"]
            case = {
                **fresh,
                "id": dup["id"],
                "task": dup["task"],
                "revisions": dup["revisions"] + 1,
            }
        else:  # keep the better plan, note the revision
            case = {**dup, "revisions": dup["revisions"] + 1}
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

    def _learn(
        self, vec: np.ndarray, shown: list[dict[str, Any]], plan: str, reward: float,
        confidence: float = CERTAIN, attribution: dict | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Credit each shown case for the reward and train the learned policy on it.

        The credit is the responsibility for the reward times the reward's confidence: the weight of
        this episode's evidence in every case's record and in the policy's update.
        """
        if not shown:
            return np.zeros(0)
        policy = self.learned_policy(len(vec))
        with self.store.hold_state(self.policy_key) as held:  # no other process learns meanwhile
            if held.version != policy.version:
                policy.load(held.arrays(), held.version)
            policy.version = None  # a step that fails before it is saved is reloaded away
            credit = self._credit_and_train(
                policy, vec, shown, plan, reward, confidence, attribution
            )
            policy.version = held.save(policy.state())
        return credit

    def _credit_and_train(
        self, policy: LearnedPolicy, vec: np.ndarray, shown: list[dict[str, Any]], plan: str,
        reward: float, confidence: float, attribution: dict | None,
    ) -> np.ndarray:  # fmt: skip
        """Credit each shown case for the reward and train the policy on it (one step)."""
        usage = self.store.usage([c["id"] for c in shown])
        alpha, beta = policy.posterior(policy.prior(vec, shown), [usage[c["id"]] for c in shown])
        similarity = plan_similarity(self.embed, [plan, *(c["plan"] for c in shown)])
        position = {c["id"]: i for i, c in enumerate(shown)}
        named = {k: [position[c] for c in (attribution or {}).get(k, []) if c in position]
                 for k in ("followed", "avoided")}  # fmt: skip
        follow = influence(similarity[0, 1:], rank_weights(len(shown)), **named)
        responsibility = policy.credit(alpha / (alpha + beta), reward, follow)
        credit = share_by_plan(responsibility, similarity[1:, 1:]) * confidence
        policy.train(vec, shown, reward, credit)
        return credit

    def _lifecycle(self, shown_ids: list[str]) -> None:
        lifecycle.check_quarantine(self.bank, self.store, shown_ids)
        if lifecycle.sweep_due(self.store.episode_count(self.user)):
            lifecycle.sweep_quarantine(self.bank, self.store)
        lifecycle.enforce_capacity(self.bank, self.store, self.max_cases)

    # -- feedback --------------------------------------------------------------------------------------
    def feedback(self, thread_id: str, reward: float, note: str | None = None) -> dict[str, Any]:
        """Override an episode's reward with the user's: updates the episode, its case and the policy."""
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
                    vec, shown, episode["plan"] or "", reward, CERTAIN, episode.get("attribution")
                )
                self.store.set_credits(
                    thread_id, {c["id"]: cr for c, cr in zip(shown, credit, strict=True)}
                )
                self._lifecycle([c["id"] for c in shown])
            return (self.get_case(case["id"]) if case else None) or {}

    # -- inspection ------------------------------------------------------------------------------------
    def get_case(self, case_id: str) -> dict[str, Any] | None:
        """Return one case (any status) with its usage, or None."""
        found = self.bank.get([case_id])
        return self._with_usage(found)[0] if found else None

    def list_cases(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Return up to `limit` cases, newest first, optionally of one status."""
        cases = self.bank.all(where={"status": status} if status else None)
        cases.sort(key=lambda c: c["provenance"].get("created_at") or "", reverse=True)
        return self._with_usage(cases[:limit])

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """Return the k cases (any status) whose tasks are most similar to `query`, with `score`."""
        if not query.strip():
            raise MementoError("empty search query")
        hits = self.bank.query(self.embed([query])[0], k)
        return [{**c, "score": round(c["similarity"], 6)} for c in self._with_usage(hits)]

    def delete_case(self, case_id: str) -> bool:
        """Delete a case for good (its episodes stay in the experience store); False if unknown."""
        with self.lock, self.bank.exclusive():
            if not self.bank.get([case_id]):
                return False
            self.bank.delete([case_id])
            return True

    def episode(self, thread_id: str) -> dict[str, Any] | None:
        """Return a recorded episode with its retrievals (without the task embedding), or None."""
        found = self.store.episode(thread_id)
        if found is None or found["user"] != self.user:
            return None
        found.pop("task_embedding", None)
        return found
