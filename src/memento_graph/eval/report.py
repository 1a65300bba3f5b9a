"""Summaries of an eval run: summary.json, the terminal table and the learning-curve PNG."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from memento_graph.eval.harness import CONTROL_ARM, FAILED, MEMORY_ARM
from memento_graph.eval.metrics import METRICS
from memento_graph.eval.stats import bootstrap_ci, paired_difference_ci

Record = dict[str, Any]


def failed(rec: Record) -> bool:
    """Tell whether an item-run failed or crashed (it has no score: not a wrong answer)."""
    return rec.get("status") == FAILED


def summarize(records: list[Record], splits: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """Return the summary: per arm and iteration every metric with its 95% CI, and the gain.

    Metrics are over the item-runs that ran; failed ones are counted apart (`failed`,
    `failure_rate`, per split in `split_failed`), and the gain leaves out pairs with a failure.
    """
    by_arm: dict[str, dict[int, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        by_arm[rec["arm"]][rec["iteration"]].append(rec)
    order = sorted(by_arm, key=lambda a: (a != MEMORY_ARM, a != CONTROL_ARM, a))
    arms = {
        arm: {
            "iterations": [_iteration(i, recs, splits) for i, recs in sorted(by_arm[arm].items())]
        }
        for arm in order
    }
    summary: dict[str, Any] = {"settings": settings, "metric": settings.get("metric", "em")}
    summary["arms"] = arms
    if MEMORY_ARM in by_arm and CONTROL_ARM in by_arm:
        summary["gain"] = [
            _gain(i, by_arm[MEMORY_ARM][i], by_arm[CONTROL_ARM].get(i, []), splits)
            for i in sorted(by_arm[MEMORY_ARM])
        ]
    return summary


def _metric_cis(recs: list[Record]) -> dict[str, dict[str, float | int]]:
    out = {}
    for metric in METRICS:
        values = [
            r["scores"][metric]
            for r in recs
            if not failed(r) and r["scores"].get(metric) is not None
        ]
        if values:
            out[metric] = bootstrap_ci(values).as_dict()
    return out


def _iteration(iteration: int, recs: list[Record], splits: list[str]) -> dict[str, Any]:
    tokens: Counter[str] = Counter()
    for r in recs:
        tokens.update({k: int(v) for k, v in (r.get("tokens") or {}).items()})
    n_failed = sum(map(failed, recs))
    return {
        "iteration": iteration,
        "n": len(recs),
        "ran": len(recs) - n_failed,
        "failed": n_failed,
        "failure_rate": round(n_failed / max(1, len(recs)), 4),
        "metrics": _metric_cis(recs),
        "splits": {
            field: {value: _metric_cis(group) for value, group in _group(recs, field).items()}
            for field in splits
        },
        "split_failed": {
            field: {
                value: {"n": len(group), "failed": sum(map(failed, group))}
                for value, group in _group(recs, field).items()
            }
            for field in splits
        },
        "statuses": dict(Counter(r["status"] for r in recs)),
        "tokens": dict(tokens),
        "seconds_mean": round(sum(r["seconds"] for r in recs) / max(1, len(recs)), 3),
        "cases_used_mean": round(sum(len(r["cases_used"]) for r in recs) / max(1, len(recs)), 3),
        "cases_written": sum(1 for r in recs if r.get("case_id")),
    }


def _group(recs: list[Record], field: str) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        groups[str(r["fields"].get(field, "(none)"))].append(r)
    return dict(sorted(groups.items()))


def _pair_key(rec: Record) -> tuple[int, str]:
    return rec["seed"], rec["item_id"]


def _pairs(treated: list[Record], control: list[Record]) -> tuple[list[tuple[Record, Record]], int]:
    """Return the paired item-runs where both ran, and how many pairs a failure left out."""
    base = {_pair_key(r): r for r in control}
    pairs = [(r, base[_pair_key(r)]) for r in treated if _pair_key(r) in base]
    ran = [(a, b) for a, b in pairs if not failed(a) and not failed(b)]
    return ran, len(pairs) - len(ran)


def _paired_cis(treated: list[Record], control: list[Record]) -> dict[str, dict[str, float | int]]:
    pairs, _ = _pairs(treated, control)
    out = {}
    for metric in METRICS:
        both = [
            (a["scores"][metric], b["scores"][metric])
            for a, b in pairs
            if a["scores"].get(metric) is not None and b["scores"].get(metric) is not None
        ]
        if both:
            ci = paired_difference_ci([a for a, _ in both], [b for _, b in both])
            out[metric] = ci.as_dict()
    return out


def _gain(iteration: int, treated: list[Record], control: list[Record], splits: list[str]) -> dict:
    split_gains = {}
    for field in splits:
        ctrl = _group(control, field)
        split_gains[field] = {
            value: _paired_cis(group, ctrl.get(value, []))
            for value, group in _group(treated, field).items()
        }
    pairs, excluded = _pairs(treated, control)
    return {
        "iteration": iteration,
        "metrics": _paired_cis(treated, control),
        "splits": split_gains,
        "pairs": len(pairs),
        "excluded_failed": excluded,
    }


def write_summary(summary: dict[str, Any], out: Path) -> Path:
    """Write summary.json into the output folder and return its path."""
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, allow_nan=False), encoding="utf-8")
    return path


def _fmt(est: dict[str, Any] | None, signed: bool = False) -> str:
    if not est or est["mean"] is None or math.isnan(est["mean"]):
        return "-"
    sign = "+" if signed else ""
    return f"{est['mean'] * 100:{sign}.1f} [{est['low'] * 100:{sign}.1f}, {est['high'] * 100:{sign}.1f}]"


def summary_table(summary: dict[str, Any]) -> Any:
    """Return a rich Table: one row per iteration, the metric per arm and the gain, with CIs."""
    from rich.table import Table

    metric = summary["metric"]
    arms = summary["arms"]
    gains = {g["iteration"]: g for g in summary.get("gain", [])}
    table = Table(
        title=f"{metric.upper()} per iteration of the runs that ran (%, bootstrap 95% CI)",
        caption=_caption(summary),
    )
    table.add_column("iteration", justify="right")
    for arm in arms:
        table.add_column(arm, no_wrap=True)
    if gains:
        table.add_column("gain over control", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column(_failed_header(arms), justify="right")
    rows: dict[int, dict[str, Any]] = defaultdict(dict)
    for arm, data in arms.items():
        for it in data["iterations"]:
            rows[it["iteration"]][arm] = it
    for iteration, cells in sorted(rows.items()):
        row = [str(iteration)]
        row += [_fmt(cells[a]["metrics"].get(metric)) if a in cells else "-" for a in arms]
        if gains:
            row.append(_fmt(gains.get(iteration, {}).get("metrics", {}).get(metric), signed=True))
        row.append(str(max(c["n"] for c in cells.values())))
        row.append(" · ".join(str(cells[a]["failed"]) if a in cells else "-" for a in arms))
        table.add_row(*row)
    return table


def _failed_header(arms: dict[str, Any]) -> str:
    return "failed" if len(arms) < 2 else f"failed ({' · '.join(arms)})"


def _caption(summary: dict[str, Any]) -> str | None:
    """Say how failures count, when there were any."""
    runs = [it for data in summary["arms"].values() for it in data["iterations"]]
    n_failed = sum(it.get("failed", 0) for it in runs)
    if not n_failed:
        return None
    excluded = sum(g.get("excluded_failed", 0) for g in summary.get("gain", []))
    text = f"{n_failed} failed item-runs (crashes, model errors) are not counted as wrong answers"
    return text + (f"; the gain leaves out {excluded} pairs with a failure" if excluded else "")


def metrics_table(summary: dict[str, Any]) -> Any:
    """Return a rich Table of every metric computed, per arm, at the last iteration (with CIs)."""
    from rich.table import Table

    lasts = {
        arm: data["iterations"][-1] for arm, data in summary["arms"].items() if data["iterations"]
    }
    names = [m for m in METRICS if any(m in it["metrics"] for it in lasts.values())]
    iteration = max((it["iteration"] for it in lasts.values()), default=0)
    table = Table(title=f"Every metric, iteration {iteration} (%, bootstrap 95% CI)")
    table.add_column("arm", no_wrap=True)
    for name in names:
        table.add_column(name.upper(), no_wrap=True)
    for arm, it in lasts.items():
        table.add_row(arm, *(_fmt(it["metrics"].get(name)) for name in names))
    return table


def split_tables(summary: dict[str, Any]) -> list[Any]:
    """Return one rich Table per split field: the last iteration's metric per value and arm."""
    from rich.table import Table

    metric, arms = summary["metric"], summary["arms"]
    lasts = {arm: data["iterations"][-1] for arm, data in arms.items() if data["iterations"]}
    gain = (summary.get("gain") or [{}])[-1]
    tables = []
    for field in summary["settings"].get("splits", []):
        iteration = max((it["iteration"] for it in lasts.values()), default=0)
        table = Table(title=f"{metric.upper()} by {field}, iteration {iteration} (%, 95% CI)")
        table.add_column(field, no_wrap=True)
        for arm in lasts:
            table.add_column(arm, no_wrap=True)
        if gain:
            table.add_column("gain over control", no_wrap=True)
        table.add_column(_failed_header(lasts), justify="right")
        values = sorted({v for it in lasts.values() for v in it["splits"].get(field, {})})
        for value in values:
            row = [value] + [
                _fmt(it["splits"].get(field, {}).get(value, {}).get(metric))
                for it in lasts.values()
            ]
            if gain:
                row.append(_fmt(gain["splits"][field].get(value, {}).get(metric), signed=True))
            counts = [it.get("split_failed", {}).get(field, {}).get(value) for it in lasts.values()]
            row.append(" · ".join(str(c["failed"]) if c else "-" for c in counts))
            table.add_row(*row)
        tables.append(table)
    return tables


def plot_learning_curve(summary: dict[str, Any], path: Path) -> Path:
    """Draw the metric per iteration with its CI band for each arm (control included)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = summary["metric"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    styles = {MEMORY_ARM: ("tab:blue", "-o"), CONTROL_ARM: ("tab:gray", "--s")}
    for arm, data in summary["arms"].items():
        points = [(it["iteration"], it["metrics"].get(metric)) for it in data["iterations"]]
        points = [(x, m) for x, m in points if m and m["mean"] is not None]
        if not points:
            continue
        xs = [x for x, _ in points]
        color, style = styles.get(arm, ("tab:green", "-^"))
        label = f"{arm} ({summary['settings'].get('memory')})" if arm == MEMORY_ARM else arm
        ax.plot(xs, [m["mean"] * 100 for _, m in points], style, color=color, label=label)
        lows = [m["low"] * 100 for _, m in points]
        highs = [m["high"] * 100 for _, m in points]
        ax.fill_between(xs, lows, highs, color=color, alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{metric.upper()} (%)")
    name = Path(str(summary["settings"].get("dataset", ""))).name
    ax.set_title(f"Learning curve {name} (bands: bootstrap 95% CI)".replace("  ", " "))
    locator: Any = ax.xaxis.get_major_locator()  # an AutoLocator: a MaxNLocator
    locator.set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
