"""The challenger: a fresh model trained on the recent answers after a drift, swapped in when it wins.

After a drift the champion (the model in use) carries what it learned from
the old concept. A :class:`Challenger` keeps a window of the latest labeled
examples; :meth:`~Challenger.start` trains a fresh model (from
:func:`labelstream.core.build.build_model`) on the newest of them; then each
new reviewed record is a test for both models before either learns it
(prequential evaluation). Once the challenger has been tested on enough
records and its accuracy beats the champion's by ``margin`` on the latest
``eval_window`` of them, :meth:`~Challenger.should_swap` says so and
:meth:`~Challenger.take` hands the model over. A challenger that does not win
within ``max_evaluations`` records is dropped.

>>> from labelstream.core.model import OnlineModel
>>> challenger = Challenger(lambda: OnlineModel("logistic", seed=1), train_window=40, min_evaluations=20)
>>> for i in range(100):  # the old concept: the label is the sign of x
...     challenger.add({"x": i % 2 * 2 - 1.0}, "pos" if i % 2 else "neg")
>>> challenger.start()
>>> for i in range(40):  # the concept flipped; the champion still says the old answer
...     x, label = {"x": i % 2 * 2 - 1.0}, "neg" if i % 2 else "pos"
...     challenger.compare(x, label, champion_label="pos" if i % 2 else "neg")
>>> challenger.should_swap(), challenger.accuracies()[1]
(True, 0.0)
>>> challenger.take().n_learned, challenger.active
(80, False)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from labelstream.core.model import OnlineModel
from labelstream.core.policy.base import Prediction


class Challenger:
    """A background model for after a drift, and the scoreboard against the champion."""

    def __init__(
        self,
        build: Callable[[], OnlineModel],
        window: int = 1000,
        train_window: int = 200,
        eval_window: int = 200,
        min_evaluations: int = 50,
        max_evaluations: int = 2000,
        margin: float = 0.0,
    ) -> None:
        self.build = build
        self.window = window
        self.train_window = train_window
        self.eval_window = eval_window
        self.min_evaluations = min_evaluations
        self.max_evaluations = max_evaluations
        self.margin = margin
        self._examples: deque[tuple[dict[str, float], str]] = deque(maxlen=window)
        self._reset()

    def _reset(self) -> None:
        self.model: OnlineModel | None = None
        self.n_evaluations = 0
        self._challenger_correct: deque[bool] = deque(maxlen=self.eval_window)
        self._champion_correct: deque[bool] = deque(maxlen=self.eval_window)

    @property
    def active(self) -> bool:
        """Whether a challenger is being trained and tested."""
        return self.model is not None

    def add(self, x: dict[str, float], label: str) -> None:
        """Remember one labeled example (model input, true label)."""
        self._examples.append((x, label))

    def start(self, n_recent: int | None = None) -> None:
        """Train a fresh model on the newest ``n_recent`` examples (default ``train_window``)."""
        self._reset()
        n_recent = self.train_window if n_recent is None else n_recent
        self.model = self.build()
        for x, label in list(self._examples)[-n_recent:] if n_recent else []:
            self.model.learn_one(x, label)

    def compare(self, x: dict[str, float], label: str, champion_label: str | None) -> None:
        """Test both models on one reviewed record, then let the challenger learn it (and remember it)."""
        self.add(x, label)
        if self.model is None:
            return
        challenger_label = Prediction.from_probabilities(self.model.predict_proba_one(x)).label
        self._challenger_correct.append(challenger_label == label)
        self._champion_correct.append(champion_label == label)
        self.model.learn_one(x, label)
        self.n_evaluations += 1
        if self.n_evaluations >= self.max_evaluations and not self.should_swap():
            self._reset()

    def accuracies(self) -> tuple[float, float]:
        """(challenger, champion) accuracy over the latest ``eval_window`` tests."""
        n = len(self._challenger_correct)
        if not n:
            return 0.0, 0.0
        return sum(self._challenger_correct) / n, sum(self._champion_correct) / n

    def should_swap(self) -> bool:
        """Whether the challenger has been tested enough and beats the champion."""
        if self.model is None or self.n_evaluations < self.min_evaluations:
            return False
        challenger, champion = self.accuracies()
        return challenger > champion + self.margin

    def take(self) -> OnlineModel:
        """Hand the challenger over (to become the new model version) and stop challenging."""
        if self.model is None:
            raise RuntimeError("no challenger to take: call start() after a drift first")
        model = self.model
        self._reset()
        return model
