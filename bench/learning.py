"""Learning benchmark: does the memory get better with experience, and does it catch poison?

Runs the real Memory (case bank, experience store, policy, lifecycle, write-back) in the seeded world of
bench/learning_env.py for the policies none, similarity, learned and an oracle, over seeds x task orders.
Prints success per window with bootstrap 95% CIs (resampling runs) and uses-until-quarantine per poison
case; writes bench/out/learning.png and bench/out/learning.json.

    python bench/learning.py                 # 5 seeds x 2 orders x 2,000 tasks
    python bench/learning.py --seeds 1 --tasks 400 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from learning_env import JUDGE, MODELS, FamilyEmbedder, World, parse_plan  # noqa: E402

POLICIES = ("none", "similarity", "learned", "oracle")
OUT = Path(__file__).resolve().parent / "out"


def run_one(policy: str, seed: int, order: int, tasks: int, families: int, k: int = 4) -> dict:
    """Run one policy over one seeded world in one task order; return successes and poison uses."""
    from memento_graph.memory.core import Memory
    from memento_graph.memory.lifecycle import MIN_CREDIT

    world = World(seed=seed, tasks=tasks, families=families)
    rng = np.random.default_rng(1000 * seed + order)
    sequence = [world.task_list[i] for i in rng.permutation(len(world.task_list))]
    if policy == "none":
        plans = [world.act(rng, [], fam) for _, fam in sequence]
        expected = [
            world.success_p(plan, fam) for (plan, _), (_, fam) in zip(plans, sequence, strict=True)
        ]
        return {
            "success": [won for _, won in plans],
            "expected": expected,
            "poison": {},
            "follows": {},
            "false_alarms": {},
        }
    scratch = (
        "/dev/shm" if Path("/dev/shm").is_dir() else None
    )  # the world is tiny; skip disk syncs
    with tempfile.TemporaryDirectory(dir=scratch) as home:
        memory = Memory(Path(home), "bench", FamilyEmbedder(world.table))
        poison = {}
        for i, case in enumerate(world.initial):
            written = memory.complete_episode(
                thread_id=f"seed-{i}", task=case["task"], plan=case["plan"], answer=None,
                reward=case["reward"], judge=JUDGE, retrieved=[], policy="none", models=MODELS,
            )  # fmt: skip
            if "poison" in case["plan"]:
                poison[written["id"]] = None
        followed = dict.fromkeys(poison, 0)  # episodes whose plan copied the poison case
        success, expected = [], []
        for t, (task, family) in enumerate(sequence):
            shown = _select(memory, world, policy, task, family, k)
            plan, won = world.act(rng, shown, family)
            success.append(won)
            expected.append(world.success_p(plan, family))
            memory.complete_episode(
                thread_id=f"ep-{t}", task=task, plan=plan, answer=None, reward=won, judge=JUDGE,
                retrieved=shown, policy=policy, models=MODELS,
            )  # fmt: skip
            for case in [c for c in shown if c["id"] in followed]:
                followed[case["id"]] += plan == case["plan"]
        # a quarantined case is never retrieved again: its retrievals now are its uses until then
        follows = {}
        for case_id in poison:
            case = memory.get_case(case_id)
            uses = case["usage"]["times_retrieved"]
            poison[case_id] = uses if case["status"] == "quarantined" else -uses
            follows[case_id] = followed[case_id]
        cases = memory.bank.all()
        usage = memory.store.usage([c["id"] for c in cases])
        judged = [c for c in cases if usage[c["id"]]["credit_uses"] >= MIN_CREDIT]
        false_alarms = _false_alarms(world, judged)
    return {"success": success, "expected": expected, "poison": poison, "follows": follows,
            "false_alarms": false_alarms}  # fmt: skip


def _false_alarms(world: World, cases: list[dict]) -> dict[str, list[int]]:
    """Return [quarantined, all] counts of non-poison cases with the right and a wrong strategy."""
    out = {"right": [0, 0], "wrong": [0, 0]}
    for case in cases:
        family, strategy = parse_plan(case["plan"])
        if strategy != "poison":
            counts = out["right" if int(strategy) == world.right[family] else "wrong"]
            counts[0] += case["status"] == "quarantined"
            counts[1] += 1
    return out


def _select(memory, world: World, policy: str, task: str, family: int, k: int) -> list[dict]:
    if policy in ("similarity", "learned"):
        return memory.retrieve(task, k, policy)
    pool = memory.retrieve(task, 64, "similarity")  # oracle: the best k by hidden success
    pool.sort(key=lambda c: -_hidden(world, c["plan"], family))
    return [{**c, "rank": r} for r, c in enumerate(pool[:k], start=1)]


def _hidden(world: World, plan: str, family: int) -> float:
    same = parse_plan(plan)[0] == family
    return world.success_p(plan, family) if same else world.success_p(None, family)


def bootstrap_ci(
    values: np.ndarray, rng: np.random.Generator, n: int = 2000
) -> tuple[float, float]:
    """Return the 95% bootstrap CI of the mean of `values` (resampling its entries)."""
    means = rng.choice(values, size=(n, len(values)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(results: dict[str, list[dict]], windows: int) -> dict:
    """Return per-policy window means and CIs (runs resampled) and poison uses."""
    rng = np.random.default_rng(0)
    out = {}
    for policy, runs in results.items():
        per_run = np.array(
            [np.array_split(np.array(r["success"]), windows) for r in runs], dtype=object
        )
        means = np.array([[w.mean() for w in run] for run in per_run])  # runs x windows
        cis = [bootstrap_ci(means[:, w], rng) for w in range(windows)]
        poison = [u for r in runs for u in r["poison"].values()]
        follows = [u for r in runs for u in r["follows"].values()]
        alarms = {kind: np.sum([r["false_alarms"][kind] for r in runs if r["false_alarms"]], axis=0)
                  .tolist() for kind in ("right", "wrong")}  # fmt: skip
        out[policy] = {"mean": means.mean(axis=0).tolist(), "ci": cis, "poison_uses": poison,
                       "poison_follows": follows, "quarantined_other": alarms}  # fmt: skip
    return out


def run_all(
    seeds: int, orders: int, tasks: int, families: int, jobs: int, policies=POLICIES
) -> dict:
    """Run every policy x seed x order (in `jobs` processes); return raw results per policy."""
    specs = [
        (p, s, o, tasks, families) for p in policies for s in range(seeds) for o in range(orders)
    ]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            outs = list(pool.map(run_one, *zip(*specs, strict=True)))
    else:
        outs = [run_one(*spec) for spec in specs]
    results: dict[str, list[dict]] = {p: [] for p in policies}
    for spec, res in zip(specs, outs, strict=True):
        results[spec[0]].append(res)
    return results


def plot(summary: dict, tasks: int, path: Path) -> None:
    """Draw success per window with CI bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for policy, data in summary.items():
        x = (np.arange(len(data["mean"])) + 1) * tasks / len(data["mean"])
        lo, hi = zip(*data["ci"], strict=True)
        ax.plot(x, data["mean"], marker="o", label=policy)
        ax.fill_between(x, lo, hi, alpha=0.2)
    ax.set_xlabel("tasks seen")
    ax.set_ylabel("success rate (window mean, 95% CI)")
    ax.set_title("memento-graph learning benchmark")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--orders", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--families", type=int, default=25)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--policies", default=",".join(POLICIES))
    args = parser.parse_args()
    policies = tuple(args.policies.split(","))
    results = run_all(args.seeds, args.orders, args.tasks, args.families, args.jobs, policies)
    summary = summarise(results, args.windows)
    OUT.mkdir(exist_ok=True)
    (OUT / "learning.json").write_text(json.dumps(summary, indent=1))
    plot(summary, args.tasks, OUT / "learning.png")
    print(f"success per window of {args.tasks // args.windows} tasks, mean [95% CI] over "
          f"{args.seeds} seeds x {args.orders} orders")  # fmt: skip
    for policy, data in summary.items():
        cells = [
            f"{m:.3f} [{lo:.3f},{hi:.3f}]"
            for m, (lo, hi) in zip(data["mean"], data["ci"], strict=True)
        ]
        print(f"{policy:>10}: " + " ".join(cells[-3:]) + f"   (first: {cells[0]})")
    last = {p: d["mean"][-1] for p, d in summary.items()}
    if "learned" in last and "oracle" in last:
        print(f"last window: learned / oracle = {last['learned'] / last['oracle']:.3f}")
    for policy in [p for p in ("similarity", "learned") if p in summary]:
        uses, follows = summary[policy]["poison_uses"], summary[policy]["poison_follows"]
        done = [(u, f) for u, f in zip(uses, follows, strict=True) if u > 0]
        print(f"poison cases ({policy}): {len(done)}/{len(uses)} quarantined, "
              f"{sum(f <= 10 for _, f in done)} within 10 uses (episodes that followed its plan), "
              f"{sum(u <= 10 for u, _ in done)} within 10 retrievals (shown at all)")  # fmt: skip
        print(
            f"  retrievals until quarantine: {sorted(uses)} (negative: never quarantined, so far)"
        )
        print(f"  uses (plan followed) until quarantine: {sorted(follows)}")
        alarms = summary[policy]["quarantined_other"]
        print("  other cases quarantined, of those followed (judged by the lifecycle): " + ", ".join(
            f"{q}/{n} with the {kind} strategy" for kind, (q, n) in alarms.items()))  # fmt: skip
    print(f"plot: {OUT / 'learning.png'}")


if __name__ == "__main__":
    main()
