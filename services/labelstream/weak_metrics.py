"""Prometheus metrics of the labeling functions, read from the engine at scrape time.

Registered once on a service's :class:`~labelstream.metrics.Metrics`
(:func:`register_weak_metrics`); each scrape reads the engine's
:class:`~labelstream.core.weak.WeakSupervision` counts, so the hot path does
no metric work for LFs. Series (label ``lf``: the LF's name):

- ``labelstream_lf_votes_total``: votes cast on routed records (counter);
- ``labelstream_lf_failures_total{kind}``: calls that counted as abstaining,
  ``kind`` = ``error`` (raised), ``slow`` (over ``weak.call_timeout_ms``),
  ``timeout`` (past the batch deadline), ``skipped`` (suspended);
- ``labelstream_lf_coverage_ratio``, ``_overlap_ratio``, ``_conflict_ratio``
  ``{over}``: over the records this service routed (``over="routed"``,
  labeler) or the answered records (``over="answered"``, learner);
- ``labelstream_lf_empirical_accuracy_ratio``: share of votes that matched the
  human answer; ``labelstream_lf_learned_accuracy_ratio``: the label model's
  estimate; ``labelstream_lf_suspended``: 1 while skipped after a timeout.

>>> from labelstream.core.engine import LabelingEngine
>>> from labelstream.core.model import OnlineModel
>>> from labelstream.core.policy import ThresholdPolicy
>>> from labelstream.core.schemas import Record
>>> from labelstream.core.weak import LabelingFunction, WeakSupervision
>>> from labelstream.metrics import OVERALL, Metrics
>>> lf = LabelingFunction("always_yes", lambda record: "yes")
>>> engine = LabelingEngine(OnlineModel(), ThresholdPolicy(), weak=WeakSupervision.build([lf], batch_timeout=None))
>>> metrics = Metrics(service="labeler")
>>> register_weak_metrics(metrics, engine)
>>> _ = engine.process([Record(id="1", features={"x": 1.0})])
>>> metrics.value("labelstream_lf_votes_total", lf="always_yes"), metrics.value("labelstream_lf_coverage_ratio", lf="always_yes", over="routed")
(1.0, 1.0)

The class mix (:class:`MethodsCollector`, registered by the same call):

>>> from labelstream.core.imbalance import ClassMixMonitor
>>> engine.class_mix = ClassMixMonitor()
>>> engine.class_mix.observe_auto("yes"); engine.class_mix.observe_answer("no")
>>> metrics.value("labelstream_class_mix_distance"), metrics.value("labelstream_auto_label_class_share", label="yes", over="auto")
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from labelstream.metrics import OVERALL, Metrics

FAILURE_KINDS = {"error": "errors", "slow": "slow", "timeout": "timed_out", "skipped": "skipped"}


class WeakCollector(Collector):
    """Yields the LF series from an engine's weak supervision (nothing when it has none)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        weak = getattr(self.engine, "weak", None)
        if weak is None:
            return
        stats = weak.stats()
        routed = weak.routed.records > 0
        over = "routed" if routed else "answered"
        shares = weak.routed.summary() if routed else weak.answered.summary()
        votes = CounterMetricFamily("labelstream_lf_votes", "Votes cast by each labeling function on routed records.", labels=["lf"])
        failures = CounterMetricFamily(
            "labelstream_lf_failures", "Labeling function calls counted as abstaining, by kind.", labels=["lf", "kind"]
        )
        gauges = {
            key: GaugeMetricFamily(f"labelstream_lf_{key}_ratio", text, labels=["lf", "over"])
            for key, text in (
                ("coverage", "Share of records the LF voted on."),
                ("overlap", "Share of records the LF voted on with another LF voting too."),
                ("conflict", "Share of records the LF voted on with another LF voting a different label."),
            )
        }
        empirical = GaugeMetricFamily(
            "labelstream_lf_empirical_accuracy_ratio", "Share of the LF's votes that matched the human answer.", labels=["lf"]
        )
        learned = GaugeMetricFamily(
            "labelstream_lf_learned_accuracy_ratio", "The label model's estimate of the LF's accuracy.", labels=["lf"]
        )
        suspended = GaugeMetricFamily("labelstream_lf_suspended", "1 while the LF is skipped after a timeout.", labels=["lf"])
        for name, row in stats.items():
            votes.add_metric([name], float(row["votes"]))
            for kind, key in FAILURE_KINDS.items():
                failures.add_metric([name, kind], float(row[key]))
            for key, family in gauges.items():
                value = shares[name][key]
                if value is not None:
                    family.add_metric([name, over], value)
            if row["empirical_accuracy"] is not None:
                empirical.add_metric([name], row["empirical_accuracy"])
            if row["learned_accuracy"] is not None:
                learned.add_metric([name], row["learned_accuracy"])
            suspended.add_metric([name], float(row["suspended"]))
        yield from (votes, failures, *gauges.values(), empirical, learned, suspended)

    def describe(self) -> Iterator[Any]:
        return iter(())  # no fixed series: registration does not call collect()


class MethodsCollector(Collector):
    """The class mix, self-training, committee and rare-class reserve series of an engine (each when it has one).

    - ``labelstream_auto_label_class_share{label,over}``: share of each class among the last
      ``imbalance.class_mix_window`` auto-labels (``over="auto"``) and answers (``over="answered"``;
      in a labeler, the learner's window shipped with the model version);
    - ``labelstream_class_mix_distance``: total variation distance between the two (0: same mix);
    - ``labelstream_self_training_learned_total``, ``labelstream_self_training_paused_total``: auto-labels
      the model learned / refused while audits showed precision below the target;
      ``labelstream_self_training_unjoinable_total``: sure auto-labels whose features the learner did not find;
      ``labelstream_self_training_open{class}``: the audit guard's state, 1 while it lets the class's sure
      auto-labels be learned, 0 while it stops them (``class="__all__"``: overall);
    - ``labelstream_committee_disagreements_total``: auto-labels the committee did not all predict;
    - ``labelstream_rare_class_reviews_total``: reviews from the rare-class reserve.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        engine = self.engine
        mix = getattr(engine, "class_mix", None)
        if mix is not None:
            shares = GaugeMetricFamily("labelstream_auto_label_class_share",
                                       "Share of each class among recent auto-labels (over=auto) and answers (over=answered).",
                                       labels=["label", "over"])
            for label, row in mix.shares().items():
                for over in ("auto", "answered"):
                    shares.add_metric([label, over], row[over])
            yield shares
            distance = mix.distance()
            if distance is not None:
                yield GaugeMetricFamily("labelstream_class_mix_distance",
                                        "Total variation distance between the auto-label and the answered class mix.",
                                        value=distance)
        trainer = getattr(engine, "self_training", None)
        if trainer is not None:
            yield CounterMetricFamily("labelstream_self_training_learned", "Auto-labels the model learned (self-training).",
                                      value=float(trainer.learned))
            yield CounterMetricFamily("labelstream_self_training_paused",
                                      "Sure auto-labels not learned: audits showed precision below the target.",
                                      value=float(trainer.paused))
            yield CounterMetricFamily("labelstream_self_training_unjoinable",
                                      "Sure auto-labels the learner could not learn: features not in Redis.",
                                      value=float(trainer.unjoinable))
            yield self._guard(trainer, getattr(getattr(engine, "policy", None), "audits", None))
        committee = getattr(engine, "committee", None)
        if committee is not None:
            yield CounterMetricFamily("labelstream_committee_disagreements",
                                      "Auto-labels the committee did not all predict.", value=float(committee.disagreed))
        reserve = getattr(engine, "rare_reserve", None)
        if reserve is not None:
            yield CounterMetricFamily("labelstream_rare_class_reviews", "Reviews from the rare-class reserve.",
                                      value=float(reserve.reviewed))

    @staticmethod
    def _guard(trainer: Any, audits: Any) -> GaugeMetricFamily:
        guard = GaugeMetricFamily("labelstream_self_training_open",
                                  "1 while the audits let self-training learn the class's sure auto-labels, 0 while they "
                                  "stop it (class=__all__: the overall audits).", labels=["class"])
        guard.add_metric([OVERALL], float(trainer.open_for(None, audits)))
        for label in audits.estimates() if audits is not None else ():
            guard.add_metric([label], float(trainer.open_for(label, audits)))
        return guard

    def describe(self) -> Iterator[Any]:
        return iter(())


def register_weak_metrics(metrics: Metrics, engine: Any) -> None:
    """Export the labeling methods' series of ``engine`` (a :class:`~labelstream.core.engine.LabelingEngine`) on
    ``metrics``: the LFs' (:class:`WeakCollector`) and the class mix, self-training, committee and rare-class
    reserve (:class:`MethodsCollector`), each when the engine has it."""
    metrics.registry.register(WeakCollector(engine))
    metrics.registry.register(MethodsCollector(engine))
