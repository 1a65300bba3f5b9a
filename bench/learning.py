"""Learning benchmark: does the memory get better with experience, and does it catch poison?

Runs the real Memory (case bank, experience store, policy, lifecycle, write-back) in the seeded world of
bench/learning_env.py for the policies none, similarity, learned and an oracle, over seeds x task orders,
in named conditions (CONDITIONS: copied or paraphrased plans, judge noise, case effect, poison or not).
Prints success per window with bootstrap 95% CIs (resampling runs) and uses-until-quarantine per poison
case; writes bench/out/learning-<condition>.png and .json, and bench/out/learning-conditions.json.

    python bench/learning.py                                  # every condition, 5 seeds x 2 orders
    python bench/learning.py --conditions medium_noise20 --seeds 1 --tasks 400 --jobs 2
    python bench/learning.py --collect bench/results     # the table of the recorded conditions
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

from learning_env import MODELS, BenchEmbedder, World  # noqa: E402
from learning_text import all_texts  # noqa: E402

POLICIES = ("none", "similarity", "learned", "oracle")
OUT = Path(__file__).resolve().parent / "out"
CONDITIONS = {
    "copy": {
        "level": "copy"
    },  # the sanity check: plans copied verbatim, ground truth, large effect
    "copy_noise20": {"level": "copy", "noise": 0.2},
    "light": {"level": "light"},
    "medium": {"level": "medium"},
    "strong": {"level": "strong"},
    "medium_noise10": {"level": "medium", "noise": 0.1},
    "medium_noise20": {"level": "medium", "noise": 0.2},
    "medium_noise20_1judge": {"level": "medium", "noise": 0.2, "judge_samples": 1},
    "strong_noise20": {"level": "strong", "noise": 0.2},
    "medium_clean": {"level": "medium", "poisons": 0},
    "medium_noise20_clean": {"level": "medium", "noise": 0.2, "poisons": 0},
    "small_effect": {"level": "medium", "effect": "small"},
    "small_effect_noise20": {"level": "medium", "effect": "small", "noise": 0.2},
    "small_effect_clean": {"level": "medium", "effect": "small", "poisons": 0},
}
_STEPS: dict[str, np.ndarray] = {}


def step_vectors(families: int) -> dict[str, np.ndarray]:
    """Return MiniLM vectors of every plan step the world can write (embedded once, cached on disk)."""
    texts = all_texts(families)
    if all(t in _STEPS for t in texts):
        return _STEPS
    cache = OUT / "learning_steps.npz"
    if cache.is_file():
        with np.load(cache) as data:
            _STEPS.update(zip(data["texts"].tolist(), data["vectors"], strict=True))
    missing = [t for t in dict.fromkeys(texts) if t not in _STEPS]
    if missing:
        from memento_graph.memory.embeddings import make_embedder

        _STEPS.update(zip(missing, make_embedder("all-MiniLM-L6-v2").embed(missing), strict=True))
        OUT.mkdir(exist_ok=True)
        np.savez(cache, texts=np.array(list(_STEPS)), vectors=np.stack(list(_STEPS.values())))
    return _STEPS


def run_one(
    policy: str,
    seed: int,
    order: int,
    tasks: int,
    families: int,
    condition: str = "copy",
    k: int = 4,
) -> dict:
    """Run one policy over one seeded world in one task order; return successes and poison uses."""
    from memento_graph.memory.core import Memory
    from memento_graph.memory.lifecycle import MIN_CREDIT

    world = World(seed=seed, tasks=tasks, families=families, **CONDITIONS[condition])
    rng = np.random.default_rng(1000 * seed + order)
    sequence = [world.task_list[i] for i in rng.permutation(len(world.task_list))]
    if policy == "none":
        acts = [world.act(rng, [], fam) for _, fam in sequence]
        return {"success": [a["won"] for a in acts], "expected": [a["p"] for a in acts],
                "poison": {}, "follows": {}, "false_alarms": {}}  # fmt: skip
    scratch = (
        "/dev/shm" if Path("/dev/shm").is_dir() else None
    )  # the world is tiny; skip disk syncs
    with tempfile.TemporaryDirectory(dir=scratch) as home:
        memory = Memory(Path(home), "bench", BenchEmbedder(world.table, step_vectors(families)))
        poison = {}
        truth = {"source": "ground_truth", "model": None, "rationale": "seed case"}
        for i, case in enumerate(world.initial):
            written = memory.complete_episode(
                thread_id=f"seed-{i}", task=case["task"], plan=case["plan"], answer=None,
                reward=case["reward"], judge=truth, retrieved=[], policy="none", models=MODELS,
            )  # fmt: skip
            if world.strategy(case["plan"])[1] == "poison":
                poison[written["id"]] = None
        followed = dict.fromkeys(poison, 0)  # episodes whose planner followed the poison case
        success, expected = [], []
        for t, (task, family) in enumerate(sequence):
            shown = _select(memory, world, policy, task, family, k)
            act = world.act(rng, shown, family)
            success.append(act["won"])
            expected.append(act["p"])
            reward, judge = world.judge(rng, act["won"])
            memory.complete_episode(
                thread_id=f"ep-{t}", task=task, plan=act["plan"], answer=None, reward=reward,
                judge=judge, retrieved=shown, policy=policy, models=MODELS,
                attribution=act["attribution"],
            )  # fmt: skip
            if act["followed"] in followed and world.strategy(act["plan"])[1] == "poison":
                followed[act["followed"]] += 1  # its own family's task applied the poison plan
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
        family, strategy = world.strategy(case["plan"])
        if strategy != "poison":
            counts = out["right" if strategy == world.right[family] else "wrong"]
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
    same = world.strategy(plan)[0] == family
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
        means = np.array([[w.mean() for w in np.array_split(np.array(r["success"]), windows)]
                          for r in runs])  # runs x windows  # fmt: skip
        expected = np.array([np.array_split(np.array(r["expected"]), windows)[-1].mean()
                             for r in runs])  # fmt: skip
        cis = [bootstrap_ci(means[:, w], rng) for w in range(windows)]
        poison = [u for r in runs for u in r["poison"].values()]
        follows = [u for r in runs for u in r["follows"].values()]
        alarms = {kind: np.sum([r["false_alarms"][kind] for r in runs if r["false_alarms"]], axis=0)
                  .tolist() for kind in ("right", "wrong")}  # fmt: skip
        out[policy] = {"mean": means.mean(axis=0).tolist(), "ci": cis, "poison_uses": poison,
                       "poison_follows": follows, "quarantined_other": alarms,
                       "last_expected": float(expected.mean()),
                       "last_expected_ci": bootstrap_ci(expected, rng)}  # fmt: skip
    return out


def run_all(
    seeds: int, orders: int, tasks: int, families: int, jobs: int, policies=POLICIES,
    condition: str = "copy",
) -> dict:  # fmt: skip
    """Run every policy x seed x order (in `jobs` processes); return raw results per policy."""
    step_vectors(families)  # embedded once, before the workers start
    specs = [(p, s, o, tasks, families, condition) for p in policies for s in range(seeds)
             for o in range(orders)]  # fmt: skip
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            outs = list(pool.map(run_one, *zip(*specs, strict=True)))
    else:
        outs = [run_one(*spec) for spec in specs]
    results: dict[str, list[dict]] = {p: [] for p in policies}
    for spec, res in zip(specs, outs, strict=True):
        results[spec[0]].append(res)
    return results


def plot(summary: dict, tasks: int, path: Path, title: str) -> None:
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
    ax.set_title(f"memento-graph learning benchmark: {title}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def row(condition: str, summary: dict) -> dict:
    """Return one condition's line of the table: last-window success, ratios, poison, false alarms."""
    last = {p: round(d["mean"][-1], 3) for p, d in summary.items()}
    ci = {p: [round(x, 3) for x in d["ci"][-1]] for p, d in summary.items()}
    out = {"condition": condition, "last": last, "ci": ci}
    if "learned" in last and "oracle" in last:
        out["learned_over_oracle"] = round(last["learned"] / last["oracle"], 3)
    for policy in [p for p in ("similarity", "learned") if p in summary]:
        uses, follows = summary[policy]["poison_uses"], summary[policy]["poison_follows"]
        done = [f for u, f in zip(uses, follows, strict=True) if u > 0]
        q, n = summary[policy]["quarantined_other"]["right"]
        out[policy] = {"poison_quarantined": f"{len(done)}/{len(uses)}",
                       "poison_within_10_follows": sum(f <= 10 for f in done),
                       "follows_until_quarantine": sorted(done),
                       "good_quarantined": f"{q}/{n}", "good_quarantined_share": round(q / max(n, 1), 3)}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--orders", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--families", type=int, default=25)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument(
        "--collect", metavar="DIR", help="only rebuild DIR/learning-conditions.json"
    )
    args = parser.parse_args()
    if args.collect:  # the table of every condition recorded in DIR, in CONDITIONS order
        where = Path(args.collect)
        found = [where / f"learning-{c}.json" for c in CONDITIONS]
        table = [row(json.loads(f.read_text())["setup"]["condition"],
                     json.loads(f.read_text())["summary"]) for f in found if f.is_file()]  # fmt: skip
        (where / "learning-conditions.json").write_text(json.dumps(table, indent=1))
        return
    policies = tuple(args.policies.split(","))
    OUT.mkdir(exist_ok=True)
    table = []
    for condition in args.conditions.split(","):
        results = run_all(args.seeds, args.orders, args.tasks, args.families, args.jobs, policies,
                          condition)  # fmt: skip
        summary = summarise(results, args.windows)
        setup = {"condition": condition, **CONDITIONS[condition], "seeds": args.seeds,
                 "orders": args.orders, "tasks": args.tasks, "families": args.families}  # fmt: skip
        (OUT / f"learning-{condition}.json").write_text(
            json.dumps({"setup": setup, "summary": summary}, indent=1)
        )
        plot(summary, args.tasks, OUT / f"learning-{condition}.png", condition)
        table.append(row(condition, summary))
        print(json.dumps(table[-1]), flush=True)
    (OUT / "learning-conditions.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
