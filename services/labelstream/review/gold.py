"""Gold items: control items whose answer is known, served among real items to measure each reviewer.

An admin uploads gold items (``POST /api/v1/admin/gold``, ``labelstream review
gold add FILE``): a record, its known label and, optionally, the proposal,
probabilities and reason to show. With ``review.gold_share`` above 0, a claim
is offered a gold item with that probability: one not served to this reviewer
before, picked at random. It takes the place of the real item the claim found,
which stays in line; with no real item for the reviewer, no gold item either
(an idle page that still got records would give gold items away).

Design: a gold item is served as a *gold instance*, an ordinary queue item
created by the claim itself (``claim.lua``) and leased at once to that
reviewer, kept under a fresh random key (``secrets.token_hex``: it names
neither the gold item nor "gold", and no real record's id can be it) and
shown under another id. Because it is an ordinary item, leases, heartbeats,
skip, release, undo and the held-item reload work on it unchanged, and no
shared line, count or consolidation has to learn about gold: the simplest
design that keeps the queue's guarantees. (A gold branch inside the real
items' lines would need every line, count and scan to skip other reviewers'
gold.) Besides the claim that makes it, four scripts know it is gold (its ``gold`` and ``truth`` fields):

- handed back unanswered (skip, release, "not sure", lease expired, admin
  requeue) it ends (``requeue`` in ``prelude.lua``): an instance belongs to its
  reviewer and never enters the shared lines;
- answered (``answer.lua``) it is scored against the known label and its
  correction (kind ``gold``, ``correct`` true or false; shown with a proposal,
  ``proposal_correct`` and ``agreed_with_proposal`` too) waits until the undo
  window has passed, as an overlap item's consensus does (a plain answer is
  published at once and an undo publishes a retraction after it; a score the
  policy has counted cannot be taken back); nothing enters the outbox yet,
  the record store is not touched;
- undone (``undo.lua``) that waiting correction is dropped; nothing is
  published (the reviewer gets a retraction id as for any undo);
- corrected (``correct.lua``): refused (409, "a control item"), the simplest
  rule: a gold answer is final once the undo window has passed.

A reviewer is never served the same gold item twice: the claim marks it
served to them (``p:review:gold:served:<reviewer>``), whatever happens next.
The leader's maintenance loop calls :meth:`GoldSet.finalize` every second: due
gold answers enter the outbox (published to ``corrections`` once, as any
answer) and are counted per reviewer (answers, right), the figures of
:meth:`GoldSet.reviewers`. The learner feeds each to the policy
(``learn_gold``), never to the model.

Looks: a gold instance shows the live model's proposal and probabilities for
its record and that model version (``review.gold_proposals = "model"``, the
default; :mod:`~labelstream.review.gold_proposals`), as a real item shows the
prediction it was routed with; before the first model version, with
``"uploaded"``, or when the model cannot score it, the uploaded proposal and
probabilities. Without any proposal it looks like a record that reached review
before the model knew anything: no proposal, no probabilities, reason
``cold_start``; with a proposal and no uploaded reason, ``uncertain``. Its
priority is 0. From the real item it replaces, the claim copies the request time
(the page reads "requested 10 min ago" as for that item, not "0 s ago") and
every field of the record but its content (``source``, the record's
``timestamp``, ``metadata``, a producer's own fields): a gold record's own
fields shown are :data:`CONTENT_FIELDS` alone, never the replaced record's
id, content or a field named ``label``. Tells left (a shown id a real record
may have too, the queue counter): docs/review.md, "Gold items".

Shown id: the page and the API show the instance under an id shaped like the
replaced record's (``web04`` for ``web07``; drawn by ``claim.lua`` from the
SHA-1 of the key, stored as its field ``shown``), never its key. Each call
from the reviewer's side names ``(id, lease)`` and is resolved to the key
through the lease the instance was given (``resolve`` in ``prelude.lua``),
in the same atomic script as its lease check; replies, answer ids and the
recent-answers list translate back. So a real record with the shown id is
queued and answered on its own (its id is never the key), and a call meant
for it, under its own lease, never lands on the instance.

Suspect gold labels: a known label can be wrong (a typo in the upload, a rule
that changed). Its sign is a gold item most reviewers answer otherwise, so
:meth:`GoldSet.finalize` counts each gold item's final answers too (answers,
right, and each wrong answer), and :meth:`GoldSet.items` reads them: a gold
item with at least :data:`SUSPECT_MIN_ANSWERS` answers and a share right below
:data:`SUSPECT_BELOW` is flagged "check its label" (the admin API and page,
``labelstream review gold stats``). Its figures start again when it is removed
or uploaded again with another label (answers scored against the old label
say nothing of the new one).

Keys (p = ``redis.key_prefix``): ``p:review:gold:items`` (gold id -> JSON),
``p:review:gold:ids`` (set), ``p:review:gold:served:<reviewer>``,
``p:review:gold:shown_ids:<reviewer>`` (the ids their gold items were shown under: never twice),
``p:review:gold:lease:<lease>`` (instance key a gold lease was given for),
``p:review:gold:shown:<reviewer>`` (shown answer id -> answer id under the key),
``p:review:gold:pending`` (instance -> when its answer is final) with
``p:review:gold:entries`` (instance -> correction JSON), ``p:review:gold:answers``
and ``p:review:gold:right`` (reviewer -> count), ``p:review:gold:item_answers``
and ``p:review:gold:item_right`` (gold id -> count),
``p:review:gold:item_wrong:<gold id>`` (wrong answer -> count), and per day
``p:review:gold:day:<date>:answers`` and ``:right`` (reviewer -> count; the
date the answer became final, the server's local one as for a reviewer's day;
kept :data:`DAYS_KEPT` days).

Recent figures: an all-time accuracy hides a reviewer who was good for months
and is not this week (a new guideline, fatigue, a shared account), so the
figures come for the last :data:`RECENT_DAYS` days too (``GET
/api/v1/admin/gold?days=N``, ``labelstream review gold stats --days N``).
"""

from __future__ import annotations

import datetime
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from labelstream.core.reviewer_gold import ReviewerGold
from labelstream.core.schemas import SCHEMA_VERSION, Probabilities, Record, ReviewReason
from labelstream.review.queue_store import _load_script, as_text, local_day

if TYPE_CHECKING:
    from labelstream.review.gold_proposals import Proposal

FINALIZE_BATCH = 1000
"""Due gold answers one finalize step moves to the outbox."""
SUSPECT_MIN_ANSWERS = 5
"""Final answers a gold item needs before it can be flagged: fewer say too little (one slip of two is 50 %)."""
SUSPECT_BELOW = 0.5
"""A gold item's share right below which its known label is suspect: most reviewers answered otherwise, and
a majority of independent reviewers is more often right than one upload (Ground Truth and Label Studio QA
flag their gold the same way)."""
RECENT_DAYS = 7
"""The days the recent figures cover by default: a week of a reviewer's work."""
CONTENT_FIELDS = ("features", "text")
"""The fields of a gold record that are its own when shown; the rest of the record shown (``source``,
``timestamp``, ``metadata``, a producer's own fields) is that of the real record the instance replaces."""
DAYS_KEPT = 90
"""Days a reviewer's per-day gold figures are kept (the most ``days`` the recent figures may cover)."""


class GoldItem(BaseModel):
    """One gold item as uploaded: a record and its known label, and what a reviewer is shown with it."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[StrictStr, Field(min_length=1, max_length=256, description="The gold item's id (never shown).")]
    record: dict[str, Any] = Field(description="As a review request's record: features, text, ... (its id is replaced; "
                                   "fields other than features and text are stored, never shown: a gold item shows "
                                   "those of the real record it replaces).")
    label: Annotated[StrictStr, Field(min_length=1, max_length=256, description="The known answer.")]
    proposed_label: StrictStr | None = Field(None, description="The proposal shown (none: no proposal).")
    probabilities: Probabilities = Field(default_factory=dict, description="The probabilities shown.")
    reason: ReviewReason | None = Field(None, description="The reason shown (default: uncertain, or cold_start "
                                        "without a proposal).")

    @field_validator("record")
    @classmethod
    def _a_record(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Validated as a record (the id a placeholder: each serving gets its own)."""
        record = Record.model_validate({**value, "id": "gold"})
        return record.model_dump(mode="json", exclude_defaults=True, exclude={"id"})

    def labels_used(self) -> set[str]:
        """Every label it names: checked against the label set."""
        return {self.label, *([self.proposed_label] if self.proposed_label else []), *self.probabilities}


@dataclass(frozen=True, slots=True)
class GoldOffer:
    """A gold item offered to one claim: the instance's id, the gold item, its known label, and what is shown.

    ``request`` is the review request without its ``record`` and ``timestamp``, ``content`` the record's
    :data:`CONTENT_FIELDS` (a JSON object): the claim completes both from the real item the instance replaces.
    """

    instance: str
    gold_id: str
    truth: str
    request: bytes
    content: bytes


@dataclass(frozen=True, slots=True)
class GoldItemFigures:
    """One gold item's final answers: its known label, how many answers and right ones, each wrong answer's count."""

    label: str
    answers: int
    right: int
    wrong: dict[str, int]

    @property
    def share_right(self) -> float:
        return self.right / self.answers if self.answers else 0.0

    @property
    def top_wrong(self) -> tuple[str, int] | None:
        """The most common wrong answer and its count (a tie: the first label by name); ``None`` before any."""
        return min(self.wrong.items(), key=lambda kv: (-kv[1], kv[0])) if self.wrong else None

    @property
    def suspect(self) -> bool:
        """Check its label: enough answers (:data:`SUSPECT_MIN_ANSWERS`), most of them otherwise (:data:`SUSPECT_BELOW`).

        >>> GoldItemFigures("cat", 6, 2, {"dog": 4}).suspect, GoldItemFigures("cat", 4, 0, {"dog": 4}).suspect
        (True, False)
        """
        return self.answers >= SUSPECT_MIN_ANSWERS and self.share_right < SUSPECT_BELOW


class GoldSet:
    """The gold items of one deployment (``redis.key_prefix``): upload, delete, offer to a claim, score, count."""

    def __init__(self, client: redis.Redis, prefix: str, rng: random.Random | None = None) -> None:
        self.client = client
        p = f"{prefix}:review:gold"
        self.items_key, self.ids_key = f"{p}:items", f"{p}:ids"
        self.pending_key, self.answers_key, self.right_key = f"{p}:pending", f"{p}:answers", f"{p}:right"
        self.item_answers_key, self.item_right_key, self.item_wrong_prefix = (
            f"{p}:item_answers", f"{p}:item_right", f"{p}:item_wrong:")
        self.served_prefix, self.day_prefix = f"{p}:served:", f"{p}:day:"
        self.prefix = prefix
        self.rng = rng or random.Random()
        self._finalize = client.register_script(_load_script("gold_final"))

    # -- the set ---------------------------------------------------------------------------------

    def add(self, items: list[GoldItem]) -> int:
        """Store gold items (an id already there is replaced; with another label, its figures start again); how
        many were new."""
        if not items:
            return 0
        before = self.client.hmget(self.items_key, [item.id for item in items])
        relabelled = [item.id for item, old in zip(items, before, strict=True)
                      if old is not None and orjson.loads(old)["label"] != item.label]
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.items_key, mapping={item.id: item.model_dump_json(exclude={"id"}) for item in items})
        pipe.sadd(self.ids_key, *[item.id for item in items])
        self._forget_figures(pipe, relabelled)
        return int(pipe.execute()[1])

    def delete(self, gold_id: str) -> bool:
        """Remove a gold item: never served again (instances already served are answered and scored as usual);
        its own figures go (a reviewer's stay)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.items_key, gold_id)
        pipe.srem(self.ids_key, gold_id)
        self._forget_figures(pipe, [gold_id])
        return bool(pipe.execute()[0])

    def _forget_figures(self, pipe: redis.client.Pipeline, gold_ids: list[str]) -> None:
        if gold_ids:
            pipe.hdel(self.item_answers_key, *gold_ids)
            pipe.hdel(self.item_right_key, *gold_ids)
            pipe.delete(*[self.item_wrong_prefix + gold_id for gold_id in gold_ids])

    def count(self) -> int:
        return int(self.client.scard(self.ids_key))

    def left(self, reviewers: list[str]) -> dict[str, int]:
        """Per reviewer, the gold items in the set never served to them: what is left to offer them.

        At 0 a reviewer gets no gold item however many real items they answer, and the pool's gold answers
        come from the others alone (docs/contract.md section 5, "Several reviewers, one of them bad"): upload
        more (docs/review.md, Gold items, Serving)."""
        if not reviewers:
            return {}
        pipe = self.client.pipeline(transaction=False)
        pipe.scard(self.ids_key)
        for reviewer in reviewers:  # counted in Redis (7.0+): served ids still in the set, not the ids themselves
            pipe.sintercard(2, [self.ids_key, self.served_prefix + reviewer])
        size, *served = pipe.execute()
        return {reviewer: size - count for reviewer, count in zip(reviewers, served, strict=True)}

    # -- serving ---------------------------------------------------------------------------------

    def offer(self, reviewer: str, share: float,
              propose: Callable[[dict[str, Any]], Proposal | None] | None = None) -> GoldOffer | None:
        """With probability ``share``, a gold item this reviewer was not served yet, as a new instance; else ``None``.

        ``propose``: the live model's proposal for its record (:mod:`~labelstream.review.gold_proposals`), shown
        instead of the uploaded one when it gives one."""
        if share <= 0 or self.rng.random() >= share:
            return None
        fresh = sorted(as_text(g) for g in self.client.sdiff(self.ids_key, self.served_prefix + reviewer))
        if not fresh:
            return None
        gold_id = self.rng.choice(fresh)
        raw = self.client.hget(self.items_key, gold_id)
        if raw is None:  # deleted meanwhile
            return None
        gold = orjson.loads(raw)
        instance = secrets.token_hex(12)
        live = propose(gold["record"]) if propose is not None else None
        if live is not None:
            proposed, probabilities, version = live.label, live.probabilities, live.model_version
        else:
            proposed, probabilities, version = gold.get("proposed_label"), gold.get("probabilities") or {}, None
        request = {  # the id, the record and the request time come in the claim, from the item replaced (claim.lua)
            "schema_version": SCHEMA_VERSION,
            "proposed_label": proposed,
            "probabilities": probabilities,
            "reason": gold.get("reason") or ("uncertain" if proposed else "cold_start"),
            "priority": 0.0,
            "inclusion_probability": 1.0,
            "model_version": version,
            "context": {},
            "flagged_answer": None,
        }
        content = {key: gold["record"][key] for key in CONTENT_FIELDS if key in gold["record"]}
        return GoldOffer(instance, gold_id, gold["label"], orjson.dumps(request), orjson.dumps(content))

    # -- scoring ---------------------------------------------------------------------------------

    def finalize(self, now: float | None = None) -> tuple[int, int]:
        """Gold answers past their undo window into the outbox, counted per reviewer; (right, wrong) moved."""
        now = time.time() if now is None else now
        right, wrong = self._finalize(keys=[], args=[self.prefix, now, FINALIZE_BATCH, local_day(now),
                                                     (DAYS_KEPT + 1) * 86400], client=self.client)
        return int(right), int(wrong)

    def _answers_and_right(self, answers_key: str, right_key: str) -> tuple[dict[str, int], dict[str, int]]:
        """Two count hashes read together: final answers and right ones, by reviewer or by gold id."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(answers_key)
        pipe.hgetall(right_key)
        return tuple({as_text(k): int(v) for k, v in counts.items()} for counts in pipe.execute())  # type: ignore[return-value]

    def reviewers(self) -> dict[str, ReviewerGold]:
        """Every reviewer with a final gold answer: answers and right, by name."""
        answers, rights = self._answers_and_right(self.answers_key, self.right_key)
        return {name: ReviewerGold(answers[name], rights.get(name, 0)) for name in sorted(answers)}

    @staticmethod
    def _days(days: int, now: float | None) -> list[str]:
        """The local dates of the last ``days`` days, today first."""
        if not 1 <= days <= DAYS_KEPT:
            raise ValueError(f"days must be 1 to {DAYS_KEPT}, not {days}")
        today = datetime.date.fromtimestamp(time.time() if now is None else now)
        return [(today - datetime.timedelta(days=back)).isoformat() for back in range(days)]

    def recent(self, days: int = RECENT_DAYS, now: float | None = None) -> dict[str, ReviewerGold]:
        """Every reviewer with a gold answer made final in the last ``days`` days (today included, local dates):
        answers and right, by name."""
        pipe = self.client.pipeline(transaction=False)
        for day in self._days(days, now):
            pipe.hgetall(f"{self.day_prefix}{day}:answers")
            pipe.hgetall(f"{self.day_prefix}{day}:right")
        replies = pipe.execute()
        answers: dict[str, int] = {}
        rights: dict[str, int] = {}
        for counts, total in zip(replies, [answers, rights] * days, strict=True):
            for name, count in counts.items():
                total[as_text(name)] = total.get(as_text(name), 0) + int(count)
        return {name: ReviewerGold(answers[name], rights.get(name, 0)) for name in sorted(answers)}

    def recent_for(self, reviewer: str, days: int = RECENT_DAYS, now: float | None = None) -> ReviewerGold | None:
        """One reviewer's gold answers made final in the last ``days`` days (``None`` before any): what a claim
        reads to know whether its reviewer is held (:mod:`~labelstream.review.holds`)."""
        pipe = self.client.pipeline(transaction=False)
        for day in self._days(days, now):
            pipe.hget(f"{self.day_prefix}{day}:answers", reviewer)
            pipe.hget(f"{self.day_prefix}{day}:right", reviewer)
        replies = [int(count or 0) for count in pipe.execute()]
        answers = sum(replies[0::2])
        return ReviewerGold(answers, sum(replies[1::2])) if answers else None

    def items(self) -> dict[str, GoldItemFigures]:
        """Every gold item in the set with a final answer: its figures, by gold id."""
        counts, rights = self._answers_and_right(self.item_answers_key, self.item_right_key)
        ids = sorted(counts)
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.items_key, ids)
        for gold_id in ids:
            pipe.hgetall(self.item_wrong_prefix + gold_id)
        stored, *wrongs = pipe.execute()
        return {gold_id: GoldItemFigures(orjson.loads(raw)["label"], counts[gold_id], rights.get(gold_id, 0),
                                         {as_text(k): int(v) for k, v in wrong.items()})
                for gold_id, raw, wrong in zip(ids, stored, wrongs, strict=True) if raw is not None}  # None: removed

    def pending(self) -> int:
        """Gold answers still within their undo window."""
        return int(self.client.zcard(self.pending_key))
