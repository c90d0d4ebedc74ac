"""Request and response bodies of the review API v1 (their JSON Schema is in ``/openapi.json``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from labelstream.review.auth import Role
from labelstream.review.gold import GoldItem

ItemId = Annotated[str, Field(min_length=1, max_length=256, description="The record id.")]
Lease = Annotated[str, Field(min_length=1, max_length=64, description="The lease token the claim returned.")]


class _Body(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True
    )  # `true` is not 1.0 seconds: no lax coercion of request bodies


class LeaseRef(_Body):
    """An item and the caller's lease on it."""

    id: ItemId
    lease: Lease


class AnswerIn(LeaseRef):
    label: Annotated[str, Field(min_length=1, max_length=256, description="One of the label set (GET /api/v1/labels).")]
    note: Annotated[str, Field(max_length=100_000)] | None = Field(
        None, description="Optional remark, published with the answer."
    )


class SkipIn(LeaseRef):
    note: Annotated[str, Field(max_length=100_000)] | None = Field(
        None, description="Why you pass (not sure, needs an expert, ...): shown to the next reviewers of the record."
    )


class SkipNote(BaseModel):
    reviewer: str
    note: str
    at: float = Field(description="When they skipped (epoch seconds).")
    unsure: bool = Field(False, description="They were not sure (POST /api/v1/unsure): sent it to the experts.")


class UnsureOut(BaseModel):
    """No count of the experts' line: a real record joins it, a gold item marked unsure ends (docs/review.md, Tells
    left)."""

    id: str


class ExpireIn(_Body):
    ids: Annotated[list[ItemId], Field(max_length=10_000)] = Field(default_factory=list, description="Items to expire.")
    older_than_seconds: Annotated[float, Field(ge=0)] | None = Field(
        None, description="...or every waiting item requested longer ago than this."
    )


class Item(BaseModel):
    """A record leased to the caller, with what they need to answer it."""

    id: str
    lease: str
    lease_expires_at: float = Field(description="Epoch seconds; POST /api/v1/heartbeat extends it.")
    lease_seconds: float
    record: dict[str, Any] = Field(description="The record: id, features, text (when any), ...")
    proposed_label: str | None
    probabilities: dict[str, float]
    reason: str = Field(description="Why it is here: uncertain, audit, cold_start, drift, disagreement, relabel.")
    reason_title: str = Field("", description="The reason in a reviewer's words (cold_start: 'calibrating').")
    reason_help: str = Field("", description="What the reason means, in a sentence.")
    priority: float
    model_version: int | None = None
    requested_at: float | None = None
    labels: list[str] = Field(description="The label set, in hotkey order.")
    overlap: bool = Field(description="Several reviewers answer this item independently.")
    skip_notes: list[SkipNote] = Field(
        default_factory=list, description="Notes of reviewers who skipped it, oldest first."
    )
    expert: bool = Field(False, description="A reviewer was not sure of it: it is served to experts only.")
    no_expert: bool = Field(
        False,
        description="A reviewer was not sure of it and no expert took it within "
        "review.expert_wait_seconds: back with the other reviewers.",
    )


class ItemOut(BaseModel):
    item: Item


class AnswerOut(BaseModel):
    answer_id: str
    id: str
    label: str
    state: str = Field(description="done, waiting (overlap: more answers needed) or consolidating.")
    undo_seconds: float = Field(description="How long POST /api/v1/undo can withdraw it.")


class UndoOut(BaseModel):
    retraction_id: str = Field(description="answer_id of the retraction published for the withdrawn answer.")
    item: Item
    withdrawn_label: str = Field("", description="The label of the withdrawn answer.")
    withdrawn_note: str | None = Field(None, description="The note sent with it, if any.")


class CorrectIn(_Body):
    """A new label for one of your recent answers (GET /api/v1/recent)."""

    answer_id: Annotated[str, Field(min_length=3, max_length=300, description="The answer to correct ('<id>#<n>').")]
    label: Annotated[str, Field(min_length=1, max_length=256, description="One of the label set.")]
    note: Annotated[str, Field(max_length=100_000)] | None = Field(
        None, description="Optional remark, published with it."
    )


class CorrectOut(BaseModel):
    id: str = Field(description="The record id.")
    answer_id: str = Field(description="The new answer's id (the same as before when the label did not change).")
    retraction_id: str | None = Field(None, description="The retraction of the corrected answer (none when unchanged).")
    label: str
    changed: bool
    consensus: Literal["pending", "recomputed"] | None = Field(
        None,
        description="An overlap item: 'pending', not consolidated yet (the new vote counts when it is); "
        "'recomputed', consolidated already (the consensus is recomputed with the new vote, and superseded on "
        "corrections if its label changes). None: an item answered by one reviewer.",
    )


class RecentAnswer(BaseModel):
    id: str
    answer_id: str
    label: str
    answered_at: float = Field(description="When the record was first answered (epoch seconds).")
    correctable_until: float | None = Field(
        description="Until when it can be corrected (epoch seconds); none: it cannot."
    )
    corrected_from: str | None = Field(None, description="The label it had before a correction.")
    overlap: bool = False


class RecentOut(BaseModel):
    answers: list[RecentAnswer] = Field(
        description="Your answers, newest first: a page of `limit` (50) after `cursor`."
    )
    correct_seconds: float = Field(description="How long an answer can be corrected after it is given.")
    next_cursor: str | None = Field(
        None, description="Pass it as `cursor` for the next (older) page; none: this page ends your history."
    )


class HeartbeatOut(BaseModel):
    lease_expires_at: float


class SkipOut(BaseModel):
    id: str
    skipped: bool = True


class ReleaseOut(BaseModel):
    id: str
    released: bool = True


class LabelsOut(BaseModel):
    labels: list[str]
    open: bool = Field(description="No label set defined: any label is accepted.")


class GuidelinesOut(BaseModel):
    markdown: str
    html: str = Field(description="Rendered without raw HTML.")
    configured: bool


class MeOut(BaseModel):
    reviewer: str
    role: Role


class ReviewerStats(BaseModel):
    answered_today: int
    seconds_per_answer: float | None = Field(description="Median over their last 100 answers.")


class ReviewerQueueStats(BaseModel):
    """The queue as reviewers see it (GET /api/v1/stats): no figure that moves otherwise for a gold item than for a
    real one (the outbox; the experts' line, which a real record marked unsure joins and a gold item does not:
    docs/review.md, Tells left); the lead's overview has them (:class:`QueueStats`)."""

    waiting: int = Field(
        description="Records waiting for a reviewer. In GET /api/v1/stats (reviewers), exact below "
        "review.queue_counter_exact_below, else rounded down to a multiple of review.queue_counter_step "
        "(waiting_rounded: at least this many); exact in the admin overview."
    )
    waiting_rounded: bool = Field(False, description="True when waiting is rounded down (read it as '40+').")
    leased: int
    consolidating: int
    answered: int


class QueueStats(ReviewerQueueStats):
    """The queue as the lead sees it (the admin overview, ``labelstream review status``): exact."""

    expert: int = Field(0, description="Records a reviewer was not sure of, waiting for an expert (not in waiting).")
    unpublished: int = Field(description="Answers accepted, not yet on the corrections topic.")
    expert_timed_out: int = Field(
        0,
        description="Records no expert took within review.expert_wait_seconds, sent back "
        "to the other reviewers (all time).",
    )


class AgreementStats(BaseModel):
    consolidation: str
    kappa: float | None
    alpha: float | None
    consensus_agreement: dict[str, float]
    accuracy_estimate: dict[str, float] | None


class StatsOut(BaseModel):
    reviewer: str
    me: ReviewerStats
    queue: ReviewerQueueStats
    reviewers: dict[str, int] = Field(description="Answers today, per reviewer.")
    agreement: AgreementStats


class ExpireOut(BaseModel):
    expired: int


class RequeueIn(_Body):
    ids: Annotated[list[ItemId], Field(max_length=10_000)] = Field(default_factory=list, description="Held items.")
    reviewer: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        None, description="...or every item this reviewer holds."
    )


class RequeueOut(BaseModel):
    requeued: int


class ReasonStats(BaseModel):
    waiting: int
    skipped: int = Field(description="Of them, skipped by someone at least once.")
    with_notes: int = Field(description="Of them, skipped with a note (someone was not sure).")
    oldest_seconds: float = Field(description="Age of the oldest one, since the labeler asked for a review.")
    title: str = Field("", description="The reason in a reviewer's words (cold_start: 'calibrating').")
    help: str = Field("", description="What the reason means, in a sentence.")


class HeldItem(BaseModel):
    id: str = Field(description="The item's key in the queue (a gold instance's random key, never shown to reviewers).")
    reviewer: str
    held_seconds: float = Field(description="Since the reviewer claimed it.")
    gold: str | None = Field(
        None,
        description="The gold item this is an instance of (none: a real record); shown "
        "to the lead only, never on the reviewer's page.",
    )
    shown: str | None = Field(
        None,
        description="The id the reviewer sees: a gold instance's shown id, shaped like "
        "the record it replaced; a real record's id.",
    )


class ReviewerDay(BaseModel):
    answered_today: int
    skipped_today: int
    unsure_today: int = Field(0, description="Records they sent to the experts today (not sure).")
    seconds_per_answer: float | None = Field(description="Median claim-to-answer seconds over their last 100 answers.")
    holding: str | None = Field(description="The record they hold now, if any.")
    consensus_agreement: float | None = Field(
        None, description="Share of their overlap answers equal to the consensus."
    )
    accuracy_estimate: float | None = Field(
        None, description="Dawid-Skene's estimate (consolidation=dawid_skene only)."
    )


class GoldIn(_Body):
    """Gold items to add (an id already there is replaced)."""

    items: Annotated[list[GoldItem], Field(min_length=1, max_length=10_000)]


class GoldAdded(BaseModel):
    added: int = Field(description="New gold items.")
    replaced: int = Field(description="Gold items of the same id replaced.")
    count: int = Field(description="Gold items now.")


class GoldDeleted(BaseModel):
    id: str
    deleted: bool = True


class GoldFigures(BaseModel):
    answers: int = Field(description="Final answers to gold items (past the undo window).")
    right: int
    accuracy: float | None = Field(description="right / answers.")
    low: float | None = Field(description="95 % Wilson interval of the accuracy: low end.")
    high: float | None = Field(description="...and high end.")


class GoldReviewer(GoldFigures):
    recent: GoldFigures | None = Field(
        None, description="The same for the answers made final in the last recent_days days (none: no such answer)."
    )
    held: bool = Field(
        False,
        description="Held from new items: over the last 7 days at least hold_min_answers gold "
        "answers and an interval whose high end is below hold_below (review.gold_hold_below).",
    )
    cleared_until: float | None = Field(
        None, description="The lead cleared this reviewer: no hold until then (epoch seconds)."
    )
    gold_left: int = Field(
        0,
        description="Gold items in the set never served to this reviewer: at 0 they get no "
        "gold item more while they answer real ones (upload more gold items).",
    )


class GoldItemStats(BaseModel):
    id: str = Field(description="The gold item's id.")
    label: str = Field(description="Its known label.")
    answers: int = Field(description="Final answers to it (past the undo window).")
    right: int = Field(description="...equal to the known label.")
    share_right: float = Field(description="right / answers.")
    top_wrong: str | None = Field(description="The most common wrong answer (none before a wrong answer).")
    top_wrong_answers: int = Field(description="...and how many gave it.")
    check_label: bool = Field(
        description="Suspect: at least suspect_min_answers answers and share_right below "
        "suspect_below; most reviewers answered otherwise, its known label may be wrong."
    )


class GoldStats(BaseModel):
    count: int = Field(description="Gold items in the set.")
    share: float = Field(description="review.gold_share: the share of a reviewer's items that are gold items.")
    pending: int = Field(description="Gold answers still within their undo window (not counted yet).")
    reviewers: dict[str, GoldReviewer] = Field(description="Per reviewer, their final gold answers.")
    recent_days: int = Field(7, description="The days each reviewer's recent figures cover (today included).")
    items: list[GoldItemStats] = Field(
        default_factory=list,
        description="Gold items with a final answer, worst "
        "first (to check first, then by share right), at most the first 100.",
    )
    items_answered: int = Field(0, description="Gold items with a final answer (items lists at most 100 of them).")
    to_check: int = Field(0, description="Gold items flagged check_label.")
    suspect_min_answers: int = Field(description="Answers a gold item needs before it can be flagged.")
    suspect_below: float = Field(description="The share right below which it is flagged.")
    hold_below: float = Field(0.0, description="review.gold_hold_below: the accuracy floor of a hold (0: no holds).")
    hold_min_answers: int = Field(10, description="review.gold_hold_min_answers: gold answers a hold needs.")
    held: int = Field(0, description="Reviewers held now.")
    none_left: int = Field(
        0,
        description="Reviewers served every gold item in the set (gold_left 0) while "
        "review.gold_share is above 0: upload more gold items.",
    )


class HoldCleared(BaseModel):
    reviewer: str
    cleared_until: float = Field(
        description="No hold for this reviewer until then (epoch seconds): the 7-day window "
        "then holds only answers given after the clearance."
    )


class OverviewOut(BaseModel):
    queue: QueueStats
    waiting_by_reason: dict[str, ReasonStats] = Field(description="Waiting items by the reason they are here.")
    counted: int = Field(description="Waiting items the breakdown by reason read.")
    capped: bool = Field(description="True when there were more waiting items than it reads (the best-ranked first).")
    held: list[HeldItem]
    reviewers: dict[str, ReviewerDay] = Field(description="Everyone who answered or skipped today or holds a record.")
    agreement: AgreementStats
    gold: GoldStats | None = Field(None, description="Gold items and each reviewer's accuracy on them.")


class Problem(BaseModel):
    detail: str


class ProbeOut(BaseModel):
    """A probe's answer: healthy, and what was checked."""

    model_config = ConfigDict(extra="allow")
    healthy: bool
