"""The committee: an auto-label the members do not all predict is reviewed (reason disagreement), not evidence."""

from labelstream.core.budget import ReviewBudget
from labelstream.core.calibration import PrecisionCalibrator
from labelstream.core.committee import Committee
from labelstream.core.engine import COMMITTEE_STATE_KEY, LabelingEngine
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Evidence, ThresholdPolicy
from labelstream.core.policy.contract import ContractPolicy, selection_of
from labelstream.core.schemas import Record
from labelstream.core.strategies import VariableUncertainty


def test_disagreement_turns_an_auto_label_into_a_review_within_the_budget():
    # the main model learns x > 0 is pos; the member learns the opposite: every auto-label is disputed
    committee = Committee([OnlineModel("hoeffding_adaptive_tree", seed=1)])
    engine = LabelingEngine(OnlineModel(seed=1), ThresholdPolicy(0.6, cold_start_records=0, cold_start_corrections=0),
                            committee=committee)
    for _ in range(60):
        engine.model.learn_one({"x": 2.0}, "pos"), engine.model.learn_one({"x": -2.0}, "neg")
        committee.learn_one({"x": 2.0}, "neg"), committee.learn_one({"x": -2.0}, "pos")
    routed = engine.process([Record(id="1", features={"x": 2.0})])
    assert (routed[0].decision.outcome, routed[0].decision.reason) == ("review", "disagreement")
    engine.committee.require_agreement = False
    assert engine.process([Record(id="2", features={"x": 2.0})])[0].decision.outcome == "label"
    assert COMMITTEE_STATE_KEY in engine.learned_state()


def test_a_disagreement_review_is_not_calibration_evidence():
    policy = ContractPolicy(PrecisionCalibrator(), VariableUncertainty(), ReviewBudget(share=1.0),
                            audit_share=0.0, cold_start_records=0, cold_start_corrections=0, seed=1)
    committee = Committee([OnlineModel("gaussian_nb")])  # knows nothing: disputes everything
    engine = LabelingEngine(OnlineModel(seed=1), policy, committee=committee)
    policy.calibrator.threshold = lambda key: 0.5  # a proven threshold, as after enough evidence
    for _ in range(30):
        engine.model.learn_one({"x": 2.0}, "pos"), engine.model.learn_one({"x": -2.0}, "neg")
    item = engine.process([Record(id="1", features={"x": 2.0})])[0]
    assert item.decision.reason == "disagreement"
    assert selection_of(item.decision.context) is None  # the contract leaves it out of the calibration
    size = policy.calibrator.state()
    engine.learn(item.record, "pos", Evidence(item.prediction, "pos", "disagreement", 1.0, context=item.decision.context))
    assert policy.calibrator.state() == size
