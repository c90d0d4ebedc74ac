"""Labeling functions through the real services: the learner learns the label model and ships it with versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from river import datasets
from test_labeling_loop import check_exactly_once, run_stream, wait_for, write_dataset
from test_labeling_loop import start_services as start_services  # noqa: F401 - the fixture, used by `started`

from labelstream.core.engine import WEAK_STATE_KEY
from labelstream.settings import settings_to_env
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.integration

LFS = "labelstream.simulate.benchmark_lfs:phishing"


def learner_metric(text: str, name: str, lf: str) -> float | None:
    prefix = f'{name}{{lf="{lf}"}} '
    return next((float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix)), None)


@pytest.fixture
def started(start_services):  # noqa: F811 - the imported fixture
    """``start_services`` that also keeps each process by kind."""
    processes = {}

    def start(settings, kind: str, *args: str, **kwargs):
        processes[kind] = start_services(settings, kind, *args, **kwargs)
        return processes[kind]

    start.processes = processes
    return start


def test_the_learner_learns_lf_accuracies_and_ships_them_with_model_versions(settings_factory, started, tmp_path):
    settings = settings_factory(weak={"functions": [LFS]})
    data = tmp_path / "phishing.csv"
    truth = write_dataset(data, datasets.Phishing(), "w")
    ledger = run_stream(settings, started, data, truth, rate=600)
    check_exactly_once(ledger, truth)  # LFs in the labeler and the learner change no guarantee
    answered = len(ledger.human_labels)

    registry = ModelRegistry.from_settings(connect(settings.redis), settings)

    def weak_state_with_every_answer():
        state = registry.load_latest()
        weak = state.policy_state.get(WEAK_STATE_KEY, {}) if state else {}
        return weak if weak.get("answered", {}).get("answered") == answered else None

    weak = wait_for(weak_state_with_every_answer, 60, "a model version holding every answer in its label model")
    per_lf = weak["answered"]["per_lf"]
    # [votes, overlaps, conflicts, answered votes, correct, polarity]: the precise LF beats the noisy one
    assert per_lf["no_popup"][4] / per_lf["no_popup"][3] > per_lf["anchor_same_domain"][4] / per_lf["anchor_same_domain"][3]

    metrics = started.processes["learner"].metrics_text()
    precise = learner_metric(metrics, "labelstream_lf_learned_accuracy_ratio", "no_popup")
    noisy = learner_metric(metrics, "labelstream_lf_learned_accuracy_ratio", "anchor_same_domain")
    assert precise is not None and noisy is not None and precise > noisy
    assert learner_metric(metrics, "labelstream_lf_empirical_accuracy_ratio", "no_popup") is not None

    env = {**os.environ, **settings_to_env(settings)}
    result = subprocess.run([sys.executable, "-m", "labelstream", "lf", "stats", "--json"], env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["no_popup"]["answered_votes"] == per_lf["no_popup"][3]
    assert stats["no_popup"]["learned_accuracy"] > stats["anchor_same_domain"]["learned_accuracy"]
