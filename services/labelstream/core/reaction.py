"""The reaction policy: what the service does about a drift, each step switchable.

1. Tell the routing policy (``policy.on_drift(detector)``) about drifts of
   the detectors named in ``notify_policy_on`` (default: the error and
   confidence detectors): the contract policy resets its calibration
   evidence, so auto-accept turns conservative until precision is
   re-estimated, and raises its audit share for a while. Class-share drifts
   are reported but do not reset by default: a reset changes which classes
   are auto-accepted, hence the class shares, which would fire again.
2. Start a :class:`~labelstream.core.challenger.Challenger` (on the detectors
   named in ``challenger_on``, by default the error detector): a fresh model
   trained on the recent answers, tested against the champion on every new
   answer; :meth:`DriftReaction.take_winner` hands it over once it wins, and
   the caller installs it as a new model version.

Nothing here stops or pauses anything: a drift changes routing and may
change the model, never the flow of records.

>>> from labelstream.core.drift import Detection
>>> from labelstream.core.policy import ThresholdPolicy
>>> reaction = DriftReaction(challenger=None)
>>> drift = Detection("error:spam", index=5200, updates=1400, estimate_before=0.03, estimate_after=0.2,
...                   window=300, direction="increase")
>>> reaction.react(drift, ThresholdPolicy())
['policy']
>>> drift.to_event("learner").detail["detector"]
'error:spam'
>>> reaction.react(Detection("class_share:spam", 5300, 5300, 0.4, 0.6, 200, "increase"), ThresholdPolicy())
[]
"""

from __future__ import annotations

from collections.abc import Sequence

from labelstream.core.build import build_model
from labelstream.core.challenger import Challenger
from labelstream.core.drift import Detection
from labelstream.core.model import OnlineModel
from labelstream.core.policy.base import Policy
from labelstream.settings import DriftSettings, ModelSettings


class DriftReaction:
    """Turns drift detections into the configured steps; feeds and referees the challenger."""

    def __init__(
        self,
        notify_policy_on: Sequence[str] = ("error", "confidence"),
        challenger: Challenger | None = None,
        challenger_on: Sequence[str] = ("error",),
    ) -> None:
        self.notify_policy_on = tuple(notify_policy_on)
        self.challenger = challenger
        self.challenger_on = tuple(challenger_on)

    @classmethod
    def from_settings(cls, drift: DriftSettings, model: ModelSettings) -> DriftReaction:
        """The reaction of the ``drift`` settings, with challengers built from the ``model`` settings."""
        challenger = None
        if drift.challenger:
            challenger = Challenger(
                lambda: build_model(model),
                window=drift.challenger_window,
                train_window=drift.challenger_train_window,
                eval_window=drift.challenger_eval_window,
                min_evaluations=drift.challenger_min_evaluations,
                max_evaluations=drift.challenger_max_evaluations,
                margin=drift.challenger_margin,
            )
        return cls(drift.notify_policy_on, challenger, drift.challenger_on)

    def react(self, detection: Detection, policy: Policy) -> list[str]:
        """Apply the reaction steps to one detection; the names of the steps taken."""
        steps = []
        if _matches(detection.detector, self.notify_policy_on):
            policy.on_drift(detection.detector)
            steps.append("policy")
        if self._starts_challenger(detection.detector):
            self.challenger.start()
            steps.append("challenger")
        return steps

    def observe_answer(self, x: dict[str, float], label: str, champion_label: str | None) -> None:
        """One reviewed record (model input, true label, what the champion predicts now), before anyone learns it."""
        if self.challenger is not None:
            self.challenger.compare(x, label, champion_label)

    def take_winner(self) -> OnlineModel | None:
        """The challenger, if it now beats the champion (it is handed over once); else ``None``."""
        if self.challenger is not None and self.challenger.should_swap():
            return self.challenger.take()
        return None

    def _starts_challenger(self, detector: str) -> bool:
        if self.challenger is None or self.challenger.active:
            return False
        return _matches(detector, self.challenger_on)


def _matches(detector: str, names: Sequence[str]) -> bool:
    """Whether ``detector`` is one of ``names`` or in one's family (``error`` covers ``error:spam``)."""
    return any(detector == name or detector.startswith(name + ":") for name in names)
