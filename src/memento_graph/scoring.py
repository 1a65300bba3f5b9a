"""Answer scoring against ground truth: normalisation, exact match, token F1 and partial match."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

ANSWER_SPLIT = "<|answer_split|>"
_YES_NO = {"yes", "no", "noanswer"}


def normalize_answer(text: str) -> str:
    """Lower-case, strip accents, punctuation, articles and extra white space (SQuAD style)."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def split_ground_truth(ground_truth: str | list[str]) -> list[str]:
    """Return the accepted answers: a list as is, or a string split on `<|answer_split|>`."""
    if isinstance(ground_truth, list):
        return [str(g) for g in ground_truth if str(g).strip()]
    return [g for g in str(ground_truth).split(ANSWER_SPLIT) if g.strip()]


def exact_match(prediction: str | None, ground_truth: str | list[str]) -> bool:
    """Tell whether the normalised prediction equals any normalised accepted answer."""
    if not prediction:
        return False
    pred = normalize_answer(prediction)
    return any(pred == normalize_answer(g) for g in split_ground_truth(ground_truth))


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str | None, ground_truth: str | list[str]) -> float:
    """Return the best token F1 of the prediction against any accepted answer (HotpotQA style).

    A yes/no answer scores only when it equals the accepted answer, as in the HotpotQA script.
    """
    if not prediction:
        return 0.0
    pred = _tokens(prediction)
    best = 0.0
    for gold in split_ground_truth(ground_truth):
        gold_tokens = _tokens(gold)
        if not pred or not gold_tokens:
            continue
        if _YES_NO & {" ".join(pred), " ".join(gold_tokens)} and pred != gold_tokens:
            continue
        best = max(best, _f1(pred, gold_tokens))
    return best


def partial_match(prediction: str | None, ground_truth: str | list[str]) -> bool:
    """Tell whether an accepted answer and the prediction contain one another as whole words.

    Both sides are normalised first; "20 July 1851" partially matches "born on 20 July 1851"
    but "1" does not match "1851".
    """
    if not prediction:
        return False
    pred = f" {normalize_answer(prediction)} "
    if not pred.strip():
        return False
    for gold in split_ground_truth(ground_truth):
        norm = f" {normalize_answer(gold)} "
        if norm.strip() and (norm in pred or pred in norm):
            return True
    return False
