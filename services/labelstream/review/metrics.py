"""Prometheus metrics of the review service (names agreed in COORDINATION.md; the dashboard's "Reviewers" row).

Reviewer names are label values: capped (:class:`~labelstream.metrics.LabelCap`,
the rest fold into ``__other__``) so that a thousand tokens cannot blow up
Prometheus.

>>> metrics = ReviewMetrics()
>>> metrics.record_answer("ana", seconds=4.0, median_seconds=4.0)
>>> metrics.value("labelstream_review_answers_total", reviewer="ana")
1.0
>>> metrics.value("labelstream_reviewer_seconds_per_answer", reviewer="ana")
4.0
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

from labelstream.metrics import LabelCap, _service_registry, package_version

# A person takes seconds to minutes an item; the lease default is two minutes.
ANSWER_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0)


class ReviewMetrics:
    """Every metric of the review service, on its own registry (process collectors included)."""

    def __init__(self, registry: CollectorRegistry | None = None, max_reviewers: int = 200) -> None:
        self.registry = registry or _service_registry()
        self.reviewer_label = LabelCap(max_reviewers)
        r = self.registry
        Info("labelstream_build", "Service name and labelstream version.", registry=r).info(
            {"service": "review", "version": package_version(), "python": platform.python_version()}
        )
        self.queue_items = Gauge("labelstream_review_queue_items", "Review items by state.", ["state"], registry=r)
        self.answers = Counter("labelstream_review_answers_total", "Answers accepted, by reviewer.", ["reviewer"], registry=r)
        self.skips = Counter("labelstream_review_skips_total", "Items skipped, by reviewer.", ["reviewer"], registry=r)
        self.undos = Counter("labelstream_review_undos_total", "Answers undone, by reviewer.", ["reviewer"], registry=r)
        self.corrected = Counter(
            "labelstream_review_corrected_total", "Recent answers given another label (POST /api/v1/correct), by reviewer.",
            ["reviewer"], registry=r,
        )
        self.claims_held = Counter(
            "labelstream_review_claims_held_total",
            "Claims refused because their reviewer is held for low gold accuracy (review.gold_hold_below).", registry=r,
        )
        self.leases_expired = Counter(
            "labelstream_review_leases_expired_total", "Leases that ran out (the item went back to the queue).", registry=r
        )
        self.expert_timeouts = Counter(
            "labelstream_review_expert_timeouts_total",
            "Records no expert took within review.expert_wait_seconds: back to the other reviewers.", registry=r,
        )
        self.answer_seconds = Histogram(
            "labelstream_review_answer_seconds", "Claim to answer, all reviewers.", buckets=ANSWER_BUCKETS, registry=r
        )
        self.seconds_per_answer = Gauge(
            "labelstream_reviewer_seconds_per_answer", "Median seconds per answer over a reviewer's last 100.", ["reviewer"],
            registry=r,
        )
        self.kappa = Gauge(
            "labelstream_review_agreement_kappa", "Cohen's kappa, mean over reviewer pairs, on recent overlap items.", registry=r
        )
        self.alpha = Gauge(
            "labelstream_review_agreement_alpha", "Krippendorff's alpha (nominal) on recent overlap items.", registry=r
        )
        self.consensus_agreement = Gauge(
            "labelstream_reviewer_consensus_agreement_ratio",
            "Share of a reviewer's recent overlap answers equal to the consensus.",
            ["reviewer"],
            registry=r,
        )
        self.accuracy = Gauge(
            "labelstream_reviewer_accuracy_estimate", "Dawid-Skene estimate of a reviewer's accuracy.", ["reviewer"], registry=r
        )
        self.consolidated = Counter(
            "labelstream_review_consolidated_total",
            "Overlap items consolidated: agreed (unanimous), adjudicated (answers disagreed), timed_out (disagreed, no "
            "adjudicator answered within review.adjudication_timeout_seconds); recomputed (a corrected vote changed the "
            "published consensus, superseded).",
            ["result"],
            registry=r,
        )
        self.published = Counter(
            "labelstream_review_corrections_published_total", "Corrections published, by kind.", ["kind"], registry=r
        )
        self.gold_answers = Counter(
            "labelstream_review_gold_answers_total",
            "Final answers to gold items (known answers, review.gold_share), right or wrong (per reviewer: "
            "GET /api/v1/admin/gold).", ["result"], registry=r,
        )
        self.gold_left = Gauge(
            "labelstream_review_gold_left",
            "Gold items never served to a reviewer, as of their last claim (only while review.gold_share > 0); at 0 "
            "they get no gold item more: upload more gold items.", ["reviewer"], registry=r,
        )
        self.outbox = Gauge("labelstream_review_outbox_items", "Corrections accepted, not yet published.", registry=r)
        for state in ("waiting", "leased", "expert"):
            self.queue_items.labels(state)
        for result in ("agreed", "adjudicated", "timed_out", "recomputed"):
            self.consolidated.labels(result)
        for kind in ("answer", "overlap", "consensus", "retraction", "gold"):
            self.published.labels(kind)
        for result in ("right", "wrong"):
            self.gold_answers.labels(result)
        for gauge in (self.kappa, self.alpha):
            gauge.set(math.nan)  # no overlap item yet: unknown, not 0

    def record_answer(self, reviewer: str, seconds: float, median_seconds: float | None = None) -> None:
        """An answer accepted ``seconds`` after its claim; ``median_seconds``: the reviewer's recent median."""
        name = self.reviewer_label(reviewer)
        self.answers.labels(name).inc()
        self.answer_seconds.observe(seconds)
        if median_seconds is not None:
            self.seconds_per_answer.labels(name).set(median_seconds)

    def record_skip(self, reviewer: str) -> None:
        self.skips.labels(self.reviewer_label(reviewer)).inc()

    def record_undo(self, reviewer: str) -> None:
        self.undos.labels(self.reviewer_label(reviewer)).inc()

    def record_correction(self, reviewer: str) -> None:
        self.corrected.labels(self.reviewer_label(reviewer)).inc()

    def record_gold(self, right: int, wrong: int) -> None:
        """Gold answers made final (:meth:`~labelstream.review.gold.GoldSet.finalize`)."""
        self.gold_answers.labels("right").inc(right)
        self.gold_answers.labels("wrong").inc(wrong)

    def set_gold_left(self, reviewer: str, left: int) -> None:
        """Gold items never served to ``reviewer``, read at their claim (:meth:`~labelstream.review.gold.GoldSet.left`)."""
        self.gold_left.labels(self.reviewer_label(reviewer)).set(left)

    def set_queue(self, waiting: int, leased: int, outbox: int, expert: int = 0) -> None:
        self.queue_items.labels("waiting").set(waiting)
        self.queue_items.labels("leased").set(leased)
        self.queue_items.labels("expert").set(expert)  # not sure: waiting for an expert (not in waiting)
        self.outbox.set(outbox)

    def set_agreement(
        self, kappa: float, alpha: float, consensus_agreement: Mapping[str, float], accuracy: Mapping[str, float] | None
    ) -> None:
        """Agreement after a consolidation (``accuracy`` is ``None`` for majority: no estimate)."""
        self.kappa.set(kappa)
        self.alpha.set(alpha)
        for reviewer, ratio in consensus_agreement.items():
            self.consensus_agreement.labels(self.reviewer_label(reviewer)).set(ratio)
        for reviewer, estimate in (accuracy or {}).items():
            self.accuracy.labels(self.reviewer_label(reviewer)).set(estimate)

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
