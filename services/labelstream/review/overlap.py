"""Items one reviewer cannot settle: overlap items, adjudication, and the experts' queue.

An overlap item is served to ``needed`` different reviewers, one after the
other; when the last answer can no longer be undone it is consolidated
(:mod:`~labelstream.review.consolidation`), possibly after one more reviewer
adjudicates. A reviewer may correct a vote; a consensus already published is
then recomputed (superseded if its label changes). An item a reviewer is not
sure of goes to the experts, and back to the reviewers if no expert takes it
within ``review.expert_wait_seconds``.
"""

from __future__ import annotations

import time

import orjson

from labelstream.review.queue_store import QueueStore, as_text, local_day


class OverlapRouting(QueueStore):
    """Overlap items' answers and consensus, adjudication, and routing to experts."""

    def unsure(self, record_id: str, reviewer: str, lease: str, note: str | None = None, now: float | None = None) -> None:
        """The reviewer is not sure: the item goes to the experts' queue (never back to them), with the note."""
        now = time.time() if now is None else now
        reply = self._run("unsure", record_id, reviewer, lease, now, note or "", local_day(now))
        self._raise_conflict(reply)

    def time_out_experts(self, now: float | None = None, limit: int = 100) -> int:
        """Items no expert took within ``expert_wait_seconds`` (0: never): back to the reviewers who have not seen
        them, notes kept, flagged ``no_expert``; an item an expert holds is left to them. How many went back."""
        if self.expert_wait_seconds <= 0:
            return 0
        return int(self._run("expert_timeout", time.time() if now is None else now, self.expert_wait_seconds, limit))

    def ready_to_consolidate(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Overlap items with all their answers, none of which can still be undone."""
        now = time.time() if now is None else now
        return [as_text(m) for m in self.client.zrangebyscore(self.consolidating_key, "-inf", now, start=0, num=limit)]

    def answers(self, record_id: str) -> list[tuple[str, str]]:
        """(reviewer, label) of an item's answers, in the order they were given."""
        raw = self.client.hgetall(f"{self.prefix}:review:item:{record_id}:answers")
        answers = [(orjson.loads(value), as_text(reviewer)) for reviewer, value in raw.items()]
        return [(reviewer, answer["label"]) for answer, reviewer in sorted(answers, key=lambda pair: pair[0]["n"])]

    def adjudicate(self, record_id: str, deadline: float = 0.0) -> bool:
        """Send a consolidating item to one more reviewer (until ``deadline``, epoch seconds; 0: no deadline)."""
        return bool(self._run("adjudicate", record_id, repr(deadline)))

    def time_out_adjudications(self, now: float | None = None, limit: int = 100) -> int:
        """Items past their adjudication deadline, not leased: back to consolidation with the answers they have."""
        return int(self._run("adjudication_timeout", time.time() if now is None else now, limit))

    def finalize(
        self, record_id: str, correction: dict, n_answers: int, state_key: str, state_json: bytes, rev: str | None = None
    ) -> str | None:
        """Publish a consensus (into the outbox) with the consensus state; its answer id, ``None`` if stale.

        ``rev``: the item's ``rev`` field read before its answers (a corrected vote changes it).
        """
        reply = self._run(
            "finalize", record_id, orjson.dumps(correction), n_answers, self.done_keep_seconds, state_key, state_json,
            self.records.key(record_id), self.answered_keep_seconds, rev or "",
        )
        return as_text(reply[1]) if as_text(reply[0]) == "ok" else None

    def ready_to_reconsolidate(self, limit: int = 100) -> list[str]:
        """Consolidated overlap items with a vote corrected since: their consensus is to be recomputed."""
        return [as_text(m) for m in self.client.zrange(self.reconsolidate_key, 0, limit - 1)]

    def reconsolidate(self, record_id: str, rev: str | None, correction: dict | None, now: float | None = None) -> str:
        """Publish a recomputed consensus (``None``: its label did not change, nothing to publish).

        ``published`` (a retraction of the old consensus, then the new one), ``unchanged``, or ``stale``
        (a vote changed again since ``rev`` was read: the item stays listed).
        """
        reply = self._run(
            "reconsolidate", record_id, rev or "", orjson.dumps(correction) if correction else "",
            time.time() if now is None else now, self.records.key(record_id), self.answered_keep_seconds,
        )
        return as_text(reply[0])
