"""Why a record is in review, in the words a reviewer reads (the page, the terminal reviewer, the lead's view).

The wire value stays the policy's (``ReviewRequest.reason``: ``cold_start``, ``audit``, ...); only what people read
changes. ``cold_start`` was shown as "cold start", which reads as "the model is new" while model v3 proposes a label
with 90 %: it means no threshold is proven yet *for this class* (or the contract's pause holds it back), so every
record of it is reviewed — "calibrating".
"audit" reads as an audit of the reviewer; it is a random spot check of a label the model would have given alone.
"drift" and "disagreement" are an ops word and an ambiguous one (reviewers disagreeing?). Imports nothing, so the
terminal reviewer uses it without the web stack.

>>> describe("cold_start")[0]
'calibrating'
>>> describe("something_new")
('something new', '')
"""

from __future__ import annotations

REASONS: dict[str, tuple[str, str]] = {
    "uncertain": (
        "uncertain",
        "The model is not sure enough to label this record alone; an answer here teaches it the most.",
    ),
    "audit": (
        "spot check",
        "A random check of a label the model would have given alone: answer what you see, not what it proposes "
        "(these answers measure its precision).",
    ),
    "cold_start": (
        "calibrating",
        "No threshold is proven yet for this class (or it is paused while recent answers contradict it), so every "
        "record of it is reviewed: your answers are the evidence that lets the model label it alone.",
    ),
    "drift": (
        "data changed",
        "The incoming data changed (drift): thresholds are being proven again, so records of this class are reviewed.",
    ),
    "disagreement": (
        "second opinion",
        "The models disagree about this record, or a confident model contradicts an earlier answer: "
        "a fresh answer settles it.",
    ),
    "relabel": (
        "re-check",
        "This record waited for a better model; the new one still cannot label it alone.",
    ),
}


def describe(reason: str) -> tuple[str, str]:
    """``(title, explanation)`` of a review reason; an unknown one gets its own words and no explanation."""
    return REASONS.get(reason, ((reason or "review").replace("_", " "), ""))
