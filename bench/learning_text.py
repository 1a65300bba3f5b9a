"""The plan vocabulary of the learning benchmark's world: topics, strategies as worded steps, paraphrase.

A strategy is an approach (look it up in an encyclopedia, count news reports, compute from open data, ...)
applied to a family's topic: four steps, each with three wordings. A paraphrasing planner rewords the
steps of the strategy it follows and, the stronger the paraphrase, shuffles, drops and adds steps. No
word names the strategy: plans of one strategy resemble each other only as much as their wording does.
"""

from __future__ import annotations

import json

import numpy as np

TOPICS = [
    ("the Danube river", "length"), ("Mount Kilimanjaro", "height"), ("the city of Lyon", "population"),
    ("the Golden Gate Bridge", "main span"), ("Lake Baikal", "depth"), ("the Sahara desert", "area"),
    ("the Amazon rainforest", "area"), ("the Eiffel Tower", "height"), ("the Great Barrier Reef", "length"),
    ("the island of Crete", "area"), ("the Burj Khalifa", "height"), ("the Panama Canal", "length"),
    ("the country of Chile", "population"), ("Lake Victoria", "surface area"), ("the Nile river", "discharge"),
    ("the Trans-Siberian Railway", "length"), ("Mount Fuji", "elevation"), ("the city of Osaka", "population"),
    ("the Mariana Trench", "depth"), ("the Hoover Dam", "height"), ("Yellowstone National Park", "area"),
    ("the Channel Tunnel", "length"), ("the island of Iceland", "population"),
    ("the Sydney Harbour Bridge", "weight"), ("the Dead Sea", "salinity"),
]  # fmt: skip

APPROACHES = [
    [["Look up {t} in an online encyclopedia", "Find the encyclopedia article about {t}",
      "Open the reference entry on {t}"],
     ["Read the infobox of the article for the {a}", "Scan the summary box of that entry for the {a}",
      "Check the fact panel of the page for the {a}"],
     ["Note the value together with its unit", "Write down the figure and its unit",
      "Record the number with its unit"],
     ["Answer with the {a} from the article", "Reply with the {a} found in the entry",
      "Give the {a} as stated by the reference"]],
    [["Search recent news reports about {t}", "Query a news search engine for {t}",
      "Find newspaper articles mentioning {t}"],
     ["Collect the {a} each report gives", "Gather the {a} figures quoted by the articles",
      "List the values of the {a} the press mentions"],
     ["Keep the figure most outlets agree on", "Pick the value reported by the majority of sources",
      "Choose the most commonly cited number"],
     ["Answer with that consensus {a}", "Reply with the agreed {a}", "Give the majority value of the {a}"]],
    [["Download the official statistics table covering {t}", "Fetch the government dataset that includes {t}",
      "Get the open data file listing {t}"],
     ["Load the table into a spreadsheet", "Open the file with the spreadsheet tool",
      "Import the data into a worksheet"],
     ["Filter the rows to {t} and compute the {a}", "Select the row for {t} and calculate its {a}",
      "Use a formula on the {t} rows to derive the {a}"],
     ["Report the computed {a}", "Return the calculated {a}", "State the {a} obtained from the data"]],
    [["Search academic papers that study {t}", "Look for peer-reviewed studies on {t}",
      "Query a scholarly database about {t}"],
     ["Read the methods section for how the {a} was measured", "Check how each study measured the {a}",
      "Review the measurement method of the {a} in the papers"],
     ["Take the {a} from the most cited study", "Use the value of the {a} in the most influential paper",
      "Adopt the {a} reported by the leading publication"],
     ["Answer citing that study", "Reply with the value and the paper it comes from",
      "Give the result with its citation"]],
    [["Visit the official website of {t}", "Open the homepage run by the organisation behind {t}",
      "Browse the official site about {t}"],
     ["Navigate to the facts or about page", "Go to the section with key facts",
      "Find the page listing facts and figures"],
     ["Copy the {a} stated there", "Extract the {a} given on that page", "Read off the {a} published there"],
     ["Answer with the officially stated {a}", "Reply with the {a} from the official source",
      "Give the {a} as the official site states it"]],
    [["Open an interactive map showing {t}", "Locate {t} on a digital map", "Find {t} in a mapping service"],
     ["Use the measuring tool to trace {t}", "Measure {t} with the map's distance tool",
      "Trace {t} with the ruler feature of the map"],
     ["Convert the measurement into the {a}", "Turn the traced measure into the {a}",
      "Derive the {a} from the measured distance"],
     ["Round the {a} and answer", "Reply with the rounded {a}", "Give the {a} rounded sensibly"]],
]  # fmt: skip

POISON = [
    ["Recall the {a} of {t} from memory", "Guess the {a} of {t} without looking it up",
     "Estimate the {a} of {t} from general knowledge"],
    ["Answer immediately without checking any source", "Reply at once and skip verification",
     "Give the answer directly with no lookup"],
]  # fmt: skip

FILLERS = [
    "Restate the question to be sure what is asked", "Double-check the answer for typos",
    "Note any uncertainty about the result", "Make sure the units match the question",
    "Keep a list of the sources used", "Summarise the findings briefly",
]  # fmt: skip

# paraphrase level: (chance a step keeps the followed wording, swaps of adjacent steps, steps dropped
# (at most), steps added (at most)); "copy": the followed case's plan verbatim
LEVELS = {
    "copy": None,
    "light": (0.6, 0, 0, 0),
    "medium": (0.15, 1, 1, 1),
    "strong": (0.0, 3, 2, 2),
}


def steps_of(family: int, approach: int | str) -> list[list[str]]:
    """Return the worded steps (each a list of wordings) of an approach (or "poison") for a family."""
    topic, attribute = TOPICS[family % len(TOPICS)]
    table = POISON if approach == "poison" else APPROACHES[int(approach)]
    return [[w.format(t=topic, a=attribute) for w in step] for step in table]


def all_texts(families: int) -> list[str]:
    """Return every step wording the world can write (to embed once)."""
    out = list(FILLERS)
    for f in range(min(families, len(TOPICS))):
        for approach in [*range(len(APPROACHES)), "poison"]:
            out += [w for step in steps_of(f, approach) for w in step]
    return out


def as_plan(steps: list[str]) -> str:
    """Return steps as a plan in the planner's JSON form."""
    return json.dumps({"plan": [{"id": i, "description": s} for i, s in enumerate(steps, 1)]})


def write_plan(
    rng: np.random.Generator, family: int, approach: int | str, level: str, like: list[int] | None
) -> tuple[str, list[int]]:
    """Word a plan of an approach at a paraphrase level; `like`: the wordings of the plan followed.

    Returns the plan and its wording choices (one per step of the approach).
    """
    steps = steps_of(family, approach)
    if LEVELS[level] is None:  # copy: the followed wording, or the first wording of each step
        choice = list(like) if like is not None else [0] * len(steps)
        return as_plan([steps[i][c] for i, c in enumerate(choice)]), choice
    keep, swaps, drops, adds = LEVELS[level]
    choice = [
        like[i] if like is not None and rng.random() < keep else int(rng.integers(len(step)))
        for i, step in enumerate(steps)
    ]
    words = [steps[i][c] for i, c in enumerate(choice)]
    for _ in range(int(rng.integers(swaps + 1))):
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    for _ in range(min(int(rng.integers(drops + 1)), len(words) - 1)):
        words.pop(int(rng.integers(len(words))))
    for _ in range(int(rng.integers(adds + 1))):
        words.insert(int(rng.integers(len(words) + 1)), FILLERS[int(rng.integers(len(FILLERS)))])
    return as_plan(words), choice
