"""The per-version recheck: a model that slides loses its threshold, a stable one keeps it, the error is spent as stated."""

from __future__ import annotations

import math
import random

import pytest

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.calibration_recheck import VersionRecheck, share, spent
from labelstream.core.policy.base import Evidence, Prediction
from labelstream.core.policy.contract import ContractPolicy
from labelstream.core.strategies import VariableUncertainty


class Line:
    """A stand-in model on one feature: ``a`` when ``x >= cut``, at a score growing with the distance."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict_many(self, xs):
        return [self.predict_one(x) for x in xs]

    def predict_one(self, x):
        d = x["x"] - self.cut
        score = min(0.5 + abs(d), 0.999)
        label = "a" if d >= 0 else "b"
        other = "b" if label == "a" else "a"
        return Prediction.from_probabilities({label: score, other: 1.0 - score})


def _truth(x: float, rng: random.Random) -> str:
    """Class ``a`` above 0, ``b`` below, each label flipped 1 % of the time: 0.99 precision at best."""
    label = "a" if x >= 0.0 else "b"
    return ("b" if label == "a" else "a") if rng.random() < 0.01 else label


def _policy(seed: int = 0) -> ContractPolicy:
    return ContractPolicy(
        PrecisionCalibrator(), VariableUncertainty(min_probability=0.05), ReviewBudget(share=None),
        cold_start_records=0, cold_start_corrections=0, seed=seed, recheck=VersionRecheck(alpha=0.05),
    )


def _prove(policy: ContractPolicy, model: Line, answers: int, seed: int = 1) -> None:
    """Route and answer records of x in [-0.5, 0.5] under ``model`` until ``answers`` are in (all reviewed at first)."""
    rng = random.Random(seed)
    learned = 0
    while learned < answers:
        x = {"x": rng.uniform(-0.5, 0.5)}
        prediction = model.predict_one(x)
        decision = policy.decide(prediction, n_learned=1000)
        if decision.outcome != "review":
            continue
        evidence = Evidence(prediction, _truth(x["x"], rng), decision.reason, decision.inclusion_probability,
                            context=decision.context)
        policy.learn(evidence)
        policy.keep_answer(x, evidence)
        learned += 1


def test_a_stable_model_keeps_its_threshold() -> None:
    policy, model = _policy(), Line(0.0)
    _prove(policy, model, 3000)
    proven = policy.calibrator.threshold("a")
    assert proven is not None
    assert policy.threshold("a") is None  # proven, but no version validated it yet
    policy.recheck_version(model)
    assert policy.threshold("a") == proven
    policy.recheck_version(Line(0.0))  # the next version, the same model
    assert policy.threshold("a") == proven


def test_a_model_that_slides_loses_its_threshold_but_not_its_proof() -> None:
    policy, model = _policy(), Line(0.0)
    _prove(policy, model, 3000)
    proven = policy.calibrator.threshold("a")
    policy.recheck_version(model)
    assert policy.threshold("a") == proven
    # The next version moved its cut to -0.1: the records in [-0.1, 0) are b's, now predicted a at 0.5 - 0.6.
    # Above the proven threshold its precision is about (0.5 * 0.99 + 0.1 * 0.01) / 0.6 = 0.83 < 0.95.
    slid = Line(-0.1)
    assert proven is not None and proven < 0.6
    policy.recheck_version(slid)
    assert policy.calibrator.threshold("a") == proven  # the proof stands (it is about the older versions)
    in_force = policy.threshold("a")
    # Only thresholds above (nearly all) the records it now gets wrong, if any: from 0.58 up, 4 % or less are b's.
    assert in_force is None or in_force >= 0.57
    assert not policy.accepts(slid.predict_one({"x": -0.05}))
    policy.recheck_version(model)  # the model slides back: the threshold is validated again
    assert policy.threshold("a") == proven


def test_the_weights_undo_over_sampling() -> None:
    """Answers of an over-sampled stratum (reviewed 20x as often) count 1/20: its precision must not hide the other's."""

    class Same:
        def predict_many(self, xs):
            return [Prediction.from_probabilities({"a": 0.9, "b": 0.1}) for _ in xs]

    rng = random.Random(3)
    recheck = VersionRecheck(alpha=0.05)
    for _ in range(4000):
        # Half the stream is reviewed with probability 0.05 (weight 1), precision 0.85; the other half with
        # probability 1 (weight 0.05), always right: the stream's precision is 0.925, the answers' about 0.99.
        if rng.random() < 0.05 / 1.05:
            recheck.keep({"x": 0.0}, "a" if rng.random() < 0.85 else "b", weight=1.0)
        else:
            recheck.keep({"x": 1.0}, "a", weight=0.05)
    assert recheck.run(Same(), {"a": 0.5}, bar=0.95)["a"] == ()
    unweighted = VersionRecheck(alpha=0.05)
    for kept in recheck._kept:
        unweighted.keep(kept.x, kept.answer, 1.0)
    assert 0.5 in unweighted.run(Same(), {"a": 0.5}, bar=0.95)["a"]  # weights ignored: validated (wrongly)


def test_a_bad_threshold_is_validated_at_most_alpha_of_the_time() -> None:
    """At precision 0.95 exactly (the bar), the first recheck validates with probability at most spent(0.05, 1, 0, 1)."""

    class Same:
        def predict_many(self, xs):
            return [Prediction.from_probabilities({"a": 0.8, "b": 0.2}) for _ in xs]

    rng = random.Random(5)
    validated = 0
    trials = 400
    for _ in range(trials):
        recheck = VersionRecheck(alpha=0.05)
        for _ in range(3000):
            recheck.keep({}, "a" if rng.random() < 0.95 else "b", weight=1.0)
        validated += bool(recheck.run(Same(), {"a": 0.7}, bar=0.95)["a"])
    # At most 0.018 allowed (0 seen); the same harness holding the answers to a bar of 0.93 instead validates 76 %.
    assert validated / trials <= spent(0.05, 1, 0, 1)


def test_the_error_is_spent_as_documented() -> None:
    """A class's n-th recheck ever, its k-th in generation g, needs a log-wealth of log(starts / spent(alpha, k, g, n));
    n and k count per class, k starts again in a newer generation, and all of it sums to at most alpha."""

    class Same:
        def predict_many(self, xs):
            return [Prediction.from_probabilities({"a": 0.8, "b": 0.2}) for _ in xs]

    one = sum(share(k) for k in range(1, 1_000_000))
    assert 0.95 < one < 1.0  # the tail past 10^6 is < 1 / (2.1098 ln 10^6) = 0.034
    assert share(1) == pytest.approx(1 / (2.1098 * 2 * math.log(2) ** 2))
    assert spent(0.05, 4, 2, 30) == pytest.approx(0.025 * (share(30) + share(3) * share(4)))
    recheck = VersionRecheck(alpha=0.05, scan_starts=(0.7,))
    for i in range(400):
        recheck.keep({}, "a" if i % 100 else "b", weight=1.0)  # log-wealth 8.8
    recheck.run(Same(), {"a": 0.7, "b": None}, bar=0.95)
    wealth = recheck.last["a"]
    assert recheck.checks == {"a": 1} and recheck.total == {"a": 1}  # a class with no threshold spends nothing
    # The largest k (= n in the first generation) whose bar this evidence still clears; the next one fails on it.
    k_last = max(k for k in range(1, 10**5) if wealth >= math.log(1 / spent(0.05, k, 0, k)))
    assert 2 <= k_last < 1000
    recheck.checks["a"] = recheck.total["a"] = k_last - 1
    assert 0.7 in recheck.run(Same(), {"a": 0.7}, bar=0.95)["a"]
    assert recheck.run(Same(), {"a": 0.7}, bar=0.95)["a"] == ()  # k = k_last + 1: the bar moved past the wealth
    assert recheck.last["a"] == pytest.approx(wealth)
    recheck.run(Same(), {"a": 0.7}, bar=0.95, generation=1)  # a newer generation: k = 1 again; n goes on
    assert recheck.checks == {"a": 1} and recheck.total == {"a": k_last + 2} and recheck.generation == 1
    recheck.run(Same(), {"a": 0.7}, bar=0.95, generation=0)  # an older one never spends its error again
    assert recheck.checks == {"a": 2} and recheck.generation == 1
    state = recheck.state()
    restored = VersionRecheck(alpha=0.05)
    restored.load_state(state)
    assert (restored.checks, restored.total, restored.generation) == (recheck.checks, recheck.total, 1)
    # Every (n, k, g) a class can meet (n >= k, n growing with every recheck): at most alpha in all.
    assert sum(spent(0.05, k, g, 40 * g + k) for g in range(500) for k in range(1, 41)) < 0.05


def test_contexts_carry_a_least_probability_below_every_review_probability() -> None:
    policy, model = _policy(), Line(0.0)
    _prove(policy, model, 2000)
    policy.recheck_version(model)
    rng = random.Random(9)
    for _ in range(2000):
        decision = policy.decide(model.predict_one({"x": rng.uniform(-0.5, 0.5)}), n_learned=1000)
        context = decision.context
        assert 0 < context["p_least"] <= context["p_review"]


def test_only_this_generations_answers_are_kept() -> None:
    policy, model = _policy(), Line(0.0)
    _prove(policy, model, 500)
    kept = len(policy.recheck._kept)
    assert kept == 500
    old = Evidence(model.predict_one({"x": 0.3}), "a", "uncertain", 1.0,
                   context={"outcome": "review", "generation": policy.generation, "p_review": 1.0, "p_least": 1.0})
    policy.on_drift("calibration_check")
    assert len(policy.recheck._kept) == 0 and policy.recheck.validated == {}
    policy.keep_answer({"x": 0.3}, old)  # routed in the older generation
    assert len(policy.recheck._kept) == 0


def test_the_kept_answers_carry_over_to_a_restarted_policy_of_the_same_generation_only() -> None:
    policy, model = _policy(), Line(0.0)
    _prove(policy, model, 3000)
    policy.recheck_version(model)
    proven = policy.threshold("a")
    assert proven is not None
    kept = policy.kept_answers()

    restarted = _policy()  # a learner restarted from the snapshot: proofs and counts back, kept answers not
    restarted.load_learned_state(policy.learned_state())
    assert restarted.load_kept_answers(kept) == 3000
    restarted.recheck_version(model)
    assert restarted.threshold("a") == proven

    without = _policy()  # what a restart did before: no answer to re-score, the threshold withdrawn
    without.load_learned_state(policy.learned_state())
    without.recheck_version(model)
    assert without.threshold("a") is None

    newer = _policy()  # answers of another generation are not this generation's evidence
    newer.load_learned_state(policy.learned_state())
    newer.on_drift("calibration_check")
    assert newer.load_kept_answers(kept) == 0 and newer.kept_answers()["answers"] == []


def test_a_validated_class_waits_while_another_proven_class_is_not_validated() -> None:
    """With patience, class a's validated threshold waits (every record reviewed uniformly, answers at weight 1)
    while class b is proven but not validated, for a's first ``patience`` rechecks of the generation only."""
    policy, model = _policy(), Line(0.0)
    policy.recheck.patience = 3
    _prove(policy, model, 3000)
    proven = {key: policy.calibrator.threshold(key) for key in ("a", "b")}
    assert None not in proven.values()
    policy.recheck_version(model)
    assert policy.threshold("a") == proven["a"] and policy.threshold("b") == proven["b"]  # both validated: no wait
    policy.recheck.validated["b"] = ()  # b proven, not validated by this version
    assert policy.threshold("b") is None
    assert policy.threshold("a") is None  # a waits (1 recheck of 3)
    decision = policy.decide(model.predict_one({"x": 0.45}), n_learned=1000)  # a at 0.95: not auto while it waits
    assert decision.outcome == "review" and decision.context["p_least"] == decision.context["p_review"] == 1.0
    for _ in range(3):  # the 2nd to 4th rechecks; b stays unvalidated
        policy.recheck_version(model)
        policy.recheck.validated["b"] = ()
        assert policy.threshold("a") == (None if policy.recheck.checks["a"] <= 3 else proven["a"])
    assert policy.recheck.checks["a"] == 4 and policy.threshold("a") == proven["a"]  # patience spent: a in force
    policy.recheck.patience = 0
    policy.recheck.checks["a"] = 1
    assert policy.threshold("a") == proven["a"]  # no patience: never waits


def test_a_version_validated_on_a_held_out_sample_does_not_wait() -> None:
    """A warm start's first version, validated on held-out answers it never learned: class a's threshold is in force
    at once, in the policy and in a labeler that adopts the version, although b is proven but not validated; the next
    version, validated on the stream's answers, waits again."""
    policy, model = _policy(), Line(0.0)
    policy.recheck.patience = 3
    _prove(policy, model, 3000)
    proven = policy.calibrator.threshold("a")
    assert proven is not None
    policy.recheck_version(model, held_out=True)
    policy.recheck.validated["b"] = ()  # b proven, not validated by this version
    assert policy.threshold("a") == proven and policy.threshold("b") is None
    labeler = _policy()
    labeler.recheck.patience = 3
    labeler.load_learned_state(policy.learned_state())
    assert labeler.threshold("a") == proven and labeler.threshold("b") is None
    policy.recheck_version(model)  # the next version
    policy.recheck.validated["b"] = ()
    assert policy.threshold("a") is None  # waits (2 rechecks of 3)
    labeler.load_learned_state(policy.learned_state())
    assert labeler.threshold("a") is None


def test_a_hopeless_test_is_skipped_without_spending_and_changes_no_outcome() -> None:
    """With ``skip_hopeless``, a class whose region could not clear the bar even if every answer agreed is not tested:
    nothing is validated, no error is spent (k and n stay), and its next test is its first; a test that fails only
    because answers disagree is still spent. On random evidence, a skipped test is one the plain recheck also fails
    at every threshold from the proven one up."""

    class Same:
        def predict_many(self, xs):
            return [Prediction.from_probabilities({"a": 0.8, "b": 0.2}) for _ in xs]

    recheck = VersionRecheck(alpha=0.05, skip_hopeless=True)
    for _ in range(50):  # 50 agreeing answers at weight 1: log-wealth < 2.5 nats, the first bar 5.6
        recheck.keep({}, "a", weight=1.0)
    assert recheck.run(Same(), {"a": 0.7}, bar=0.95) == {"a": ()}
    assert recheck.checks == {} and recheck.total == {} and recheck.skipped == {"a": 1}
    for _ in range(250):  # 300 agreeing answers: the first test, at k = n = 1, validates
        recheck.keep({}, "a", weight=1.0)
    assert 0.7 in recheck.run(Same(), {"a": 0.7}, bar=0.95)["a"]
    assert recheck.checks == {"a": 1} and recheck.total == {"a": 1} and recheck.in_force("a", 0.7) == 0.7

    wrong = VersionRecheck(alpha=0.05, skip_hopeless=True)
    for i in range(300):  # the same count, one answer in five wrong: hopeful by count, failed by its answers
        wrong.keep({}, "a" if i % 5 else "b", weight=1.0)
    assert wrong.run(Same(), {"a": 0.7}, bar=0.95) == {"a": ()}
    assert wrong.checks == {"a": 1} and wrong.skipped == {}

    rng = random.Random(3)
    skipped = 0
    for _ in range(200):
        size, weight, precision = rng.randint(50, 1500), rng.uniform(0.2, 1.0), rng.uniform(0.93, 1.0)
        cut = rng.choice([0.5, 0.6, 0.7, 0.8])
        xs = [{"x": rng.uniform(-0.5, 0.5)} for _ in range(size)]
        model = Line(0.0)
        answers = [p.label if rng.random() < precision else ("b" if p.label == "a" else "a")
                   for p in model.predict_many(xs)]
        both = VersionRecheck(alpha=0.05, skip_hopeless=True), VersionRecheck(alpha=0.05)
        for recheck in both:
            for x, answer in zip(xs, answers, strict=True):
                recheck.keep(x, answer, weight=weight)
            recheck.run(model, {"a": cut, "b": cut}, bar=0.95)
        for key in ("a", "b"):
            if both[0].skipped.get(key):
                skipped += 1
                assert both[1].in_force(key, cut) is None  # the plain test validated nothing at or above it
            else:
                assert both[0].validated[key] == both[1].validated[key]  # tested alike otherwise
    assert 40 < skipped < 360  # both branches seen


def test_a_closing_generation_lifts_the_waiting_for_its_last_relabel_only() -> None:
    """Before a challenger swap closes the generation, its deferred records get one last relabel with the outgoing
    version (``closing_generation``): a class whose threshold is proven and validated but waits for another is
    accepted then — and only then; a class not validated, or paused, stays withheld, and so do records of another
    generation."""
    policy, model = _policy(), Line(0.0)
    policy.recheck.patience = 3
    _prove(policy, model, 3000)
    proven = policy.calibrator.threshold("a")
    policy.recheck_version(model)
    policy.recheck.validated["b"] = ()  # b proven, not validated by this version: a waits
    sure_a, sure_b = model.predict_one({"x": 0.45}), model.predict_one({"x": -0.45})
    context = {"generation": policy.generation}
    assert policy.threshold("a") is None and policy.held() == ("a",)
    assert not policy.accepts_deferred(sure_a, "no_evidence", "a", context)
    with policy.closing_generation():
        assert policy.threshold("a") == proven and policy.threshold("b") is None
        assert policy.accepts_deferred(sure_a, "no_evidence", "a", context)
        assert not policy.accepts_deferred(sure_b, "no_evidence", "b", context)  # not validated: still withheld
        assert not policy.accepts_deferred(sure_a, "over_budget", "a", context)
        assert not policy.accepts_deferred(sure_a, "no_evidence", "a", {"generation": policy.generation - 1})
        policy.calibrator.paused.add("b")  # a pause withholds every class, closing or not
        assert policy.threshold("a") is None
        policy.calibrator.paused.clear()
    assert policy.threshold("a") is None  # the waiting is back for routing
    assert not policy.accepts_deferred(sure_a, "no_evidence", "a", context)
