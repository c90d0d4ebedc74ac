"""The outcome ledger: every record's outcomes read back from the topics (read_committed).

The rule it checks (documented in the README): the labeler gives each valid
record exactly one *routing outcome*, an auto label on ``labels``, a request
on ``review`` or a wait on ``deferred``. A deferred record may later get one
relabel outcome (an auto label with ``relabeled=true``, or a review request
with reason ``relabel``). A human label (``method=human``) supersedes an auto
label for the same id; repeated human labels for an id with the same label
are the same answer delivered twice (harmless). The final label of an id is
its latest human label, else its auto label.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from labelstream.kafka.reader import read_all
from labelstream.settings import Settings


@dataclass
class Ledger:
    """Outcomes per record id, as read from the topics."""

    routing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    auto_labels: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    human_labels: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    relabels: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    reviews: dict[str, dict] = field(default_factory=dict)
    dead_letters: list[dict] = field(default_factory=list)

    def add_label(self, value: dict) -> None:
        if value["method"] == "human":
            self.human_labels[value["id"]].append(value)
        elif value.get("relabeled"):
            self.relabels[value["id"]].append("label")
            self.auto_labels[value["id"]].append(value)
        else:
            self.routing[value["id"]].append("label")
            self.auto_labels[value["id"]].append(value)

    def add_review(self, value: dict) -> None:
        if value["reason"] == "relabel":
            self.relabels[value["id"]].append("review")
        else:
            self.routing[value["id"]].append("review")
        self.reviews[value["id"]] = value

    def add_deferred(self, value: dict) -> None:
        self.routing[value["id"]].append("deferred")

    # -- checks --------------------------------------------------------------------------------

    def missing(self, expected_ids: Iterable[str]) -> set[str]:
        """Ids without any routing outcome."""
        return {i for i in expected_ids if not self.routing.get(i)}

    def duplicated(self) -> dict[str, list[str]]:
        """Ids with more than one routing outcome, or more than one relabel outcome."""
        dup = {i: outs for i, outs in self.routing.items() if len(outs) > 1}
        dup.update({i: ["relabel", *outs] for i, outs in self.relabels.items() if len(outs) > 1})
        return dup

    def conflicting_human_labels(self) -> dict[str, set[str]]:
        """Ids whose human labels disagree (a true duplicate would carry the same label)."""
        return {
            i: {v["label"] for v in values}
            for i, values in self.human_labels.items()
            if len({v["label"] for v in values}) > 1
        }

    def final_label(self, record_id: str) -> dict | None:
        """Latest human label, else the auto label."""
        if self.human_labels.get(record_id):
            return self.human_labels[record_id][-1]
        labels = self.auto_labels.get(record_id)
        return labels[-1] if labels else None

    def outcome_counts(self) -> Counter[str]:
        return Counter(outs[0] for outs in self.routing.values() if outs)


def read_ledger(settings: Settings, timeout: float = 60.0) -> Ledger:
    """Read labels, review, deferred and the DLQ to their current end."""
    ledger = Ledger()
    topics = settings.topics
    for msg in read_all(settings.kafka, topics.labels, timeout):
        ledger.add_label(orjson.loads(msg.value()))
    for msg in read_all(settings.kafka, topics.review, timeout):
        ledger.add_review(orjson.loads(msg.value()))
    for msg in read_all(settings.kafka, topics.deferred, timeout):
        ledger.add_deferred(orjson.loads(msg.value()))
    ledger.dead_letters = [orjson.loads(msg.value()) for msg in read_all(settings.kafka, topics.dlq, timeout)]
    return ledger
