"""Lineage: a case written by an episode that followed another case carries that case's plan.

When an episode most likely followed one shown case (its `credit.influence` is FOLLOWED or more: the
planner's attribution and the plans' similarity say so) and its plan is still that case's plan,
reworded (step similarity NO_CASE or more, `credit.kinship` 0.5+), the case it writes records
`derived_from` (the parent's id) and `derived_similarity`; the parent lists it in `descendants`.

The lifecycle judges a case on its lineage's evidence (`pooled_usage`): its own credited record plus
its parent's and its children's, each weighed by the kinship of the two plans. Evidence on a
paraphrase is evidence on the plan: a bad plan that spreads as paraphrases (each one credited only
part of its failures, as they are shown together and share the blame) is judged on all of its
failures, and an untested paraphrase of a quarantined plan is judged with its parent's record. A negative case
(an example to avoid) is judged on its own record: its plan's failures confirm it. Two
copies of one plan (similarity SAME_PLAN+) both get the whole credit of an episode that shows both
(`credit.share_by_plan`), so their records may count the same episodes: a copy adds only the part of
its record beyond the case's own (the records are taken to overlap as much as they can).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from memento_graph.memory.case_store import CaseStore
from memento_graph.memory.credit import KIN_SHARPNESS, NO_CASE, SAME_PLAN
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.schema import CaseRecord

FOLLOWED = 0.5  # an episode's plan derives from the shown case it more likely followed than not
MAX_DESCENDANTS = 32  # a parent lists this many of its latest descendants


def kin_of(similarity: float) -> float:
    """Return how much two plans this similar are one plan (`credit.kinship` of one pair)."""
    return float(1.0 / (1.0 + np.exp(-KIN_SHARPNESS * (similarity - NO_CASE))))


def parent_of(
    shown: Sequence[Mapping[str, Any]], follow: np.ndarray, similarity: np.ndarray
) -> tuple[Mapping[str, Any], float] | None:
    """Return the shown case an episode's plan derives from, with the plans' similarity, or None.

    `follow`: how much the episode followed each shown case (`credit.influence`); `similarity`: its
    plan's step similarity to each shown case's plan.
    """
    if len(shown) == 0:
        return None
    best = int(np.argmax(follow))
    if follow[best] < FOLLOWED or similarity[best] < NO_CASE:
        return None
    return shown[best], float(similarity[best])


def add_descendant(bank: CaseStore, parent: Mapping[str, Any], child_id: str) -> None:
    """List case `child_id` (written with `derived_from` the parent's id) among `parent`'s descendants."""
    listed = [i for i in (parent.get("descendants") or "").split() if i != child_id]
    bank.update(parent["id"], descendants=" ".join([*listed, child_id][-MAX_DESCENDANTS:]))


def relatives(bank: CaseStore, cases: Sequence[CaseRecord]) -> dict[str, list[tuple[str, float]]]:
    """Return each case's parent and children (still derived from it) with their plans' similarity."""
    children = {c["id"]: (c.get("descendants") or "").split() for c in cases}
    found = {c["id"]: c for c in bank.get(sorted({i for ids in children.values() for i in ids}))}
    out: dict[str, list[tuple[str, float]]] = {}
    for case in cases:
        kin = [(found[i]["id"], float(found[i].get("derived_similarity") or 0.0))
               for i in children[case["id"]]
               if i in found and found[i].get("derived_from") == case["id"]]  # fmt: skip
        if case.get("derived_from"):
            kin.append((str(case["derived_from"]), float(case.get("derived_similarity") or 0.0)))
        out[case["id"]] = kin
    return out


def pooled_usage(
    bank: CaseStore, store: ExperienceStore, cases: Sequence[CaseRecord],
    usage: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Return each case's usage with its lineage's credited records added (see the module doc)."""
    family = relatives(bank, cases)
    wanted = sorted({i for kin in family.values() for i, _ in kin} - set(usage))
    records = {**store.usage(wanted), **usage} if wanted else dict(usage)
    out: dict[str, dict[str, Any]] = {}
    for case in cases:
        own = dict(usage[case["id"]])
        if case["reward"] < 0.5:  # an example to avoid: its plan failing confirms it
            out[case["id"]] = own
            continue
        uses, wins = float(own["credit_uses"]), float(own["credit_successes"])
        for other, similarity in family[case["id"]]:
            record = records.get(other)
            if record is None or not record["credit_uses"]:
                continue
            r_uses, r_wins = float(record["credit_uses"]), float(record["credit_successes"])
            if similarity >= SAME_PLAN:  # a copy: only its uses beyond the case's own are new
                share = max(r_uses - float(own["credit_uses"]), 0.0) / r_uses
                uses, wins = uses + share * r_uses, wins + share * r_wins
            else:
                weight = kin_of(similarity)
                uses, wins = uses + weight * r_uses, wins + weight * r_wins
        out[case["id"]] = {**own, "credit_uses": uses, "credit_successes": wins}
    return out
