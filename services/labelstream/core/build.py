"""Build the core objects (featurizer, model, policy, engine) from settings.

>>> from labelstream.settings import load_settings
>>> engine = build_engine(load_settings())
>>> engine.model.name, engine.policy.name, engine.policy.strategy.name
('logistic', 'contract', 'split')
>>> build_engine(load_settings(policy={"name": "threshold"})).policy.confidence_threshold
0.9
"""

from __future__ import annotations

import time
from collections.abc import Callable

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_holds import HeldGoldAccuracyBound
from labelstream.core.calibration_recheck import VersionRecheck
from labelstream.core.calibration_reviewers import ConditionalGoldBound, GoldAccuracyBound, ReviewerAccuracyBound
from labelstream.core.calibration_weighted import StreamWeightedGoldBound
from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound
from labelstream.core.committee import Committee
from labelstream.core.engine import LabelingEngine
from labelstream.core.featurizer import Featurizer
from labelstream.core.imbalance import ClassMixMonitor, ClassWeights, RareClassReserve
from labelstream.core.label_errors import LabelErrorDetector
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Policy, ThresholdPolicy
from labelstream.core.policy.active_learner import ActiveLearnerPolicy
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.policy.contract_evidence import GoldBound
from labelstream.core.self_training import SelfTraining
from labelstream.core.strategies import (
    Entropy,
    FixedUncertainty,
    LeastConfidence,
    Margin,
    QueryByCommittee,
    QueryStrategy,
    RandomizedVariableUncertainty,
    RiverEntropySampler,
    Split,
    VariableUncertainty,
)
from labelstream.core.text import TextFeaturizer, build_text_featurizer
from labelstream.core.weak import WeakSupervision, load_functions
from labelstream.settings import (
    LabelErrorSettings,
    ModelSettings,
    PolicySettings,
    Settings,
    TextSettings,
    WeakSettings,
)

Clock = Callable[[], float]


def build_text(text: TextSettings) -> TextFeaturizer | None:
    """The featurizer of records' text named by ``text.featurizer`` (``None``: text ignored)."""
    return build_text_featurizer(
        text.featurizer,
        text.hash_buckets,
        text.ngram_max,
        text.encoder_model_path,
        text.encoder_tokenizer_path,
        text.encoder_max_tokens,
        text.encoder_batch_size,
        text.encoder_threads,
    )


def build_featurizer(model: ModelSettings, text: TextSettings | None = None) -> Featurizer:
    return Featurizer(model.categorical_encoding, model.hash_buckets, build_text(text or TextSettings()))


def build_model(model: ModelSettings) -> OnlineModel:
    return OnlineModel(model.name, seed=model.seed, learning_rate=model.learning_rate)


def build_strategy(policy: PolicySettings, model: ModelSettings | None = None) -> QueryStrategy:
    """The query strategy named by ``policy.strategy``."""
    common = {"min_probability": policy.min_inclusion_probability, "seed": policy.seed}
    name = policy.strategy
    if name == "least_confidence":
        return LeastConfidence(**common)
    if name == "margin":
        return Margin(**common)
    if name == "entropy":
        return Entropy(**common)
    if name == "query_by_committee":
        seed = (model or ModelSettings()).seed
        members = [OnlineModel(member, seed=seed + i + 1) for i, member in enumerate(policy.committee)]
        return QueryByCommittee(members, **common)
    if name == "fixed_uncertainty":
        return FixedUncertainty(policy.uncertainty_threshold, **common)
    if name == "variable_uncertainty":
        return VariableUncertainty(step=policy.uncertainty_step, **common)
    if name == "randomized_variable_uncertainty":
        return RandomizedVariableUncertainty(
            step=policy.uncertainty_step, delta=policy.uncertainty_randomization, **common
        )
    if name == "split":
        random_probability = policy.review_budget_share or policy.split_random_share
        return Split(policy.split_random_share, random_probability, step=policy.uncertainty_step, **common)
    if name == "river_entropy":
        return RiverEntropySampler(policy.entropy_discount, **common)
    raise ValueError(f"unknown strategy {name!r} (policy.strategy)")


def build_budget(policy: PolicySettings, clock: Clock = time.monotonic) -> ReviewBudget:
    return ReviewBudget(policy.review_budget_share, policy.review_budget_per_minute, policy.budget_reserve, clock)


def reviewer_bound_alpha(policy: PolicySettings) -> float:
    """Each reviewer-accuracy bound's error: half the contract's, split evenly between the bounds that are on
    (``reviewer_accuracy_from_overlap``, ``reviewer_accuracy_from_gold``); 0 when none is."""
    sources = int(policy.reviewer_accuracy_from_overlap) + int(policy.reviewer_accuracy_from_gold)
    return (1.0 - policy.confidence_level) / 2 / sources if sources else 0.0


def build_gold_bound(policy: PolicySettings, holds: bool = False) -> GoldBound | None:
    """The gold bound of ``policy.gold_bound`` if ``policy.reviewer_accuracy_from_gold`` (its error: as any bound's;
    a conditional one splits it evenly between its two bounds, a weighted one over the reviewers, a weighted conditional
    one over the reviewers and then between each one's two bounds). With ``holds``
    (``review.gold_hold_below > 0``) the pooled accuracy bound counts per reviewer and drops a held reviewer's answers
    (:class:`HeldGoldAccuracyBound`; the settings refuse holds with a conditional bound); the weighted one needs no
    rule for holds (:class:`StreamWeightedGoldBound`)."""
    if not policy.reviewer_accuracy_from_gold:
        return None
    if policy.gold_bound == "conditional":
        return ConditionalGoldBound(reviewer_bound_alpha(policy))
    if policy.gold_bound == "weighted":
        return StreamWeightedGoldBound(reviewer_bound_alpha(policy))
    if policy.gold_bound == "conditional-weighted":
        return StreamWeightedConditionalGoldBound(reviewer_bound_alpha(policy))
    if holds:
        return HeldGoldAccuracyBound(reviewer_bound_alpha(policy))
    return GoldAccuracyBound(reviewer_bound_alpha(policy))


def build_calibrator(policy: PolicySettings) -> PrecisionCalibrator:
    """The calibrator; with a reviewer-accuracy bound on it gets half the error (the other half: the bounds)."""
    confidence = policy.confidence_level
    if reviewer_bound_alpha(policy):
        confidence = 1.0 - (1.0 - confidence) / 2
    return PrecisionCalibrator(
        policy.target_precision,
        confidence,
        scan_starts=policy.scan_starts,
        reviewer_accuracy=policy.reviewer_accuracy,
        pause_alpha=policy.pause_alpha,
    )


def build_recheck(policy: PolicySettings) -> VersionRecheck | None:
    """The per-version recheck of the thresholds in force (``policy.version_recheck``), at the calibrator's error."""
    if not policy.version_recheck:
        return None
    return VersionRecheck(
        1.0 - build_calibrator(policy).confidence_level,
        policy.version_recheck_window,
        scan_starts=policy.version_recheck_starts,
        patience=policy.version_recheck_patience,
        skip_hopeless=policy.version_recheck_skip_hopeless,
    )


def build_policy(
    policy: PolicySettings,
    model: ModelSettings | None = None,
    clock: Clock = time.monotonic,
    gold_holds: bool = False,
) -> Policy:
    """The routing policy named by ``policy.name``; ``clock`` drives a per-minute review budget; ``gold_holds``: the
    review service holds reviewers (``review.gold_hold_below > 0``: :func:`build_gold_bound`)."""
    budget = build_budget(policy, clock)
    cold_start = (policy.cold_start_records, policy.cold_start_corrections)
    if policy.name == "threshold":
        return ThresholdPolicy(policy.confidence_threshold, *cold_start, budget=budget)
    if policy.name == "active_learner":
        return ActiveLearnerPolicy(build_strategy(policy, model), budget, *cold_start)
    if policy.name == "contract":
        return ContractPolicy(
            build_calibrator(policy),
            build_strategy(policy, model),
            budget,
            policy.audit_share,
            policy.boundary_share,
            *cold_start,
            drift_reset_evidence=policy.drift_reset_evidence,
            drift_audit_share=policy.drift_audit_share,
            drift_alert_records=policy.drift_alert_records,
            seed=policy.seed,
            guarantee=policy.guarantee,
            reviewer_bound=ReviewerAccuracyBound(reviewer_bound_alpha(policy))
            if policy.reviewer_accuracy_from_overlap
            else None,
            recheck=build_recheck(policy),
            gold_bound=build_gold_bound(policy, gold_holds),
        )
    raise ValueError(f"unknown policy {policy.name!r} (policy.name)")


def build_weak(weak: WeakSettings) -> WeakSupervision | None:
    """The labeling functions of ``weak.functions`` with their label model; ``None`` when there are none."""
    if not weak.functions:
        return None
    return WeakSupervision.build(
        load_functions(weak.functions),
        weak.combine,
        call_timeout=weak.call_timeout_ms / 1000,
        batch_timeout=None if weak.batch_timeout_ms is None else weak.batch_timeout_ms / 1000,
        prior_accuracy=weak.prior_accuracy,
        prior_strength=weak.prior_strength,
        class_strength=weak.class_strength,
        model_weight=weak.model_weight,
        learn_weights=weak.learn_weights,
        halflife=weak.halflife_answers,
    )


def build_label_errors(settings: LabelErrorSettings) -> LabelErrorDetector | None:
    """The label-error detector of ``label_errors`` (``None`` when it is off)."""
    if not settings.enabled:
        return None
    return LabelErrorDetector(settings.min_confidence, settings.min_answers, settings.window)


def build_engine(settings: Settings, clock: Clock = time.monotonic) -> LabelingEngine:
    policy_settings, rare_reserve = _split_rare_budget(settings, clock)
    return LabelingEngine(
        build_model(settings.model),
        build_policy(policy_settings, settings.model, clock, settings.review.gold_hold_below > 0),
        build_featurizer(settings.model, settings.text),
        weak=build_weak(settings.weak),
        label_errors=build_label_errors(settings.label_errors),
        self_training=SelfTraining(
            settings.self_training.min_confidence, settings.self_training.weight, settings.policy.target_precision
        )
        if settings.self_training.enabled
        else None,
        class_weights=ClassWeights(settings.imbalance.max_weight) if settings.imbalance.balanced_weights else None,
        class_mix=ClassMixMonitor(settings.imbalance.class_mix_window),
        committee=Committee(
            [OnlineModel(name, seed=settings.model.seed + 100 + i) for i, name in enumerate(settings.committee.models)],
            settings.committee.require_agreement,
        )
        if settings.committee.models
        else None,
        rare_reserve=rare_reserve,
    )


def _split_rare_budget(settings: Settings, clock: Clock) -> tuple[PolicySettings, RareClassReserve | None]:
    """The policy's settings with its budget shrunk by ``imbalance.rare_budget_share``, and the reserve that takes it."""
    share = settings.imbalance.rare_budget_share
    policy = settings.policy
    if not share:
        return policy, None
    scaled = {
        name: None if getattr(policy, name) is None else getattr(policy, name) * factor
        for factor, name in ((1 - share, "review_budget_share"), (1 - share, "review_budget_per_minute"))
    }
    rare = ReviewBudget(
        None if policy.review_budget_share is None else policy.review_budget_share * share,
        None if policy.review_budget_per_minute is None else policy.review_budget_per_minute * share,
        reserve=0.0,
        clock=clock,
    )
    return policy.model_copy(update=scaled), RareClassReserve(rare, settings.imbalance.rare_below)
