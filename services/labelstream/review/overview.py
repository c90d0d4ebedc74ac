"""A review lead's overview: the queue by reason and age, who holds what, each reviewer's day and agreement.

Served as ``GET /api/v1/admin/overview`` and printed by ``labelstream review status``
(which reads Redis directly, so it works while the service is down).
"""

from __future__ import annotations

from labelstream.review.api_models import (
    AgreementStats,
    GoldFigures,
    GoldItemStats,
    GoldReviewer,
    GoldStats,
    HeldItem,
    OverviewOut,
    QueueStats,
    ReasonStats,
    ReviewerDay,
)
from labelstream.review.consolidation import Consolidator
from labelstream.review.gold import RECENT_DAYS, SUSPECT_BELOW, SUSPECT_MIN_ANSWERS, GoldSet, ReviewerGold
from labelstream.review.holds import ReviewerHolds
from labelstream.review.queue import ReviewQueue
from labelstream.review.reasons import describe

GOLD_ITEMS_LISTED = 100
"""Gold items a gold overview lists, worst first: the ones to look at (the admin page polls it)."""


def _figures(figures: ReviewerGold) -> GoldFigures:
    low, high = figures.interval or (None, None)
    return GoldFigures(answers=figures.answers, right=figures.right, accuracy=figures.accuracy, low=low, high=high)


def gold_stats(gold: GoldSet, share: float, days: int = RECENT_DAYS, now: float | None = None,
               holds: ReviewerHolds | None = None) -> GoldStats:
    """The gold set's size, each reviewer's final gold answers, accuracy and its 95 % interval (all time and in the
    last ``days`` days), who is held (``holds``: over :data:`RECENT_DAYS` days, whatever ``days``), and the gold
    items answered, worst first (suspect labels first)."""
    recent = gold.recent(days, now)
    holds = holds or ReviewerHolds(gold.client, gold, 0.0, 1)
    held: set[str] = set()
    cleared: dict[str, float] = {}
    if holds.on:  # no extra reads when holds are off
        held = holds.held(recent if days == RECENT_DAYS else gold.recent(RECENT_DAYS, now), now)
        cleared = holds.cleared(now)
    reviewers = {}
    answered = gold.reviewers()
    left = gold.left(list(answered))
    for name, figures in answered.items():
        reviewers[name] = GoldReviewer(**_figures(figures).model_dump(),
                                       recent=_figures(recent[name]) if name in recent else None,
                                       held=name in held, cleared_until=cleared.get(name), gold_left=left[name])
    items = []
    for gold_id, f in gold.items().items():
        top_wrong, top_wrong_answers = f.top_wrong or (None, 0)
        items.append(GoldItemStats(id=gold_id, label=f.label, answers=f.answers, right=f.right,
                                   share_right=round(f.share_right, 4), top_wrong=top_wrong,
                                   top_wrong_answers=top_wrong_answers, check_label=f.suspect))
    items.sort(key=lambda i: (not i.check_label, i.share_right, -i.answers, i.id))
    return GoldStats(count=gold.count(), share=share, pending=gold.pending(), reviewers=reviewers, recent_days=days,
                     items=items[:GOLD_ITEMS_LISTED], items_answered=len(items),
                     to_check=sum(i.check_label for i in items), suspect_min_answers=SUSPECT_MIN_ANSWERS,
                     suspect_below=SUSPECT_BELOW, hold_below=holds.floor, hold_min_answers=holds.min_answers,
                     held=len(held), none_left=sum(n == 0 for n in left.values()) if share > 0 else 0)


def lead_overview(queue: ReviewQueue, consolidator: Consolidator, now: float | None = None,
                  gold: GoldStats | None = None) -> OverviewOut:
    """The overview now (agreement as of the last consensus the consolidator knows; ``gold``: the gold figures)."""
    view = queue.overview(now)
    agreement = AgreementStats(**consolidator.summary())
    accuracy = agreement.accuracy_estimate or {}
    c = view.counts
    return OverviewOut(
        queue=QueueStats(waiting=c.waiting, leased=c.leased, consolidating=c.consolidating, unpublished=c.outbox,
                         answered=c.answered, expert=c.expert,
                         expert_timed_out=c.expert_timed_out),
        waiting_by_reason={reason: ReasonStats(**row, title=describe(reason)[0], help=describe(reason)[1])
                           for reason, row in view.waiting_by_reason.items()},
        counted=view.counted,
        capped=view.capped,
        held=[HeldItem(**h) for h in view.held],
        reviewers={name: ReviewerDay(**day, consensus_agreement=agreement.consensus_agreement.get(name),
                                     accuracy_estimate=accuracy.get(name))
                   for name, day in view.reviewers.items()},
        agreement=agreement,
        gold=gold,
    )
