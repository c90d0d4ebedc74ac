"""The outcome ledger: every record's outcomes read back from the topics (read_committed).

The rule it checks (documented in the README): the labeler gives each valid
record exactly one *routing outcome*, an auto label on ``labels``, a request
on ``review`` or a wait on ``deferred``. A deferred record may later get one
relabel outcome (an auto label with ``relabeled=true``, or a review request
with reason ``relabel``). A human label (``method=human``) supersedes an auto
label for the same id; repeated human labels for an id with the same label
are the same answer delivered twice (harmless). The final label of an id is
its latest human label, else its auto label. A second review the learner asks
for (a ``review`` request carrying a ``flagged_answer``, ``label_errors``) is
no routing outcome either: it is kept in ``second_reviews``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from labelstream.kafka.config import consumer_config
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
    routed: dict[str, dict] = field(default_factory=dict)
    """The first routing message of each id (its Label, ReviewRequest or Deferred value)."""
    dead_letters: list[dict] = field(default_factory=list)
    second_reviews: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    """Second-review requests (label_errors) per id: the learner's, not the labeler's."""

    def add_label(self, value: dict) -> None:
        if value["method"] in ("human", "consensus"):  # a reviewer's answer, or the consensus of several
            self.human_labels[value["id"]].append(value)
        elif value.get("relabeled"):
            self.relabels[value["id"]].append("label")
            self.auto_labels[value["id"]].append(value)
        else:
            self._route(value, "label")
            self.auto_labels[value["id"]].append(value)

    def _route(self, value: dict, outcome: str) -> None:
        self.routing[value["id"]].append(outcome)
        self.routed.setdefault(value["id"], value)

    def add_review(self, value: dict) -> None:
        if value.get("flagged_answer") is not None:
            self.second_reviews[value["id"]].append(value)
            return
        if value["reason"] == "relabel":
            self.relabels[value["id"]].append("review")
        else:
            self._route(value, "review")
        self.reviews[value["id"]] = value

    def add_deferred(self, value: dict) -> None:
        self._route(value, "deferred")

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


class OutcomeFollower:
    """Follows the outcome topics as they grow (read_committed) and keeps a :class:`Ledger` current."""

    def __init__(self, settings: Settings) -> None:
        topics = settings.topics
        self.ledger = Ledger()
        self._handlers = {
            topics.labels: self.ledger.add_label,
            topics.review: self.ledger.add_review,
            topics.deferred: self.ledger.add_deferred,
            topics.dlq: self.ledger.dead_letters.append,
        }
        self._consumer = Consumer(consumer_config(settings.kafka, "labelstream-outcome-follower"))
        partitions = []
        for topic in self._handlers:
            metadata = self._consumer.list_topics(topic, timeout=10).topics[topic]
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        self._consumer.assign(partitions)

    def poll(self, timeout: float = 0.2) -> int:
        """Read what is available; return how many messages were added."""
        messages = [m for m in self._consumer.consume(10_000, timeout) if m.error() is None]
        for msg in messages:
            self._handlers[msg.topic()](orjson.loads(msg.value()))
        return len(messages)

    def close(self) -> None:
        self._consumer.close()


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
