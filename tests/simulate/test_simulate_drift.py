"""Issue 7 through ``simulate``: an abrupt SEA drift at record 5,000 is detected and the labels stay precise.

SEA variant 0 then 3 (class threshold 8 -> 9.5) at record 5,000 of 10,000,
default settings (the drift monitor and its reaction are on by default), the
oracle reviewer of ``simulate``. Measured (seeds 0, 1, 2): the error detector
fires 87-119 records after the change, a challenger is swapped in 211-277
records later, the lowest post-drift window precision is 0.967.
"""

from __future__ import annotations

import pytest

from labelstream.datafile import open_rows
from labelstream.settings import load_settings
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.runner import Simulation

SIZE = 10_000
WINDOW = 500
SETTLE = 300


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sea_drift_is_detected_within_1000_records_and_precision_holds(seed, tmp_path):
    change = DATASETS["sea_drift"].drift_at(SIZE)
    assert change == 5000
    path = tmp_path / "sea_drift.csv"
    export_dataset("sea_drift", path, size=SIZE, seed=seed)
    result = Simulation(load_settings()).run(open_rows(path, label_column="label", id_column="id"))

    errors = [e for e in result.report["drift_events"] if e["detector"].startswith("error:")]
    assert errors, result.report["drift_events"]
    assert all(e["at_record"] >= change for e in errors), "an error-detector alarm before the change"
    assert errors[0]["at_record"] - change <= 1000

    auto = [(o.index, o.label == o.true_label) for o in result.outcomes if o.method == "auto"]
    for start in range(change + SETTLE, SIZE - WINDOW + 1, WINDOW):
        window = [correct for index, correct in auto if start <= index < start + WINDOW]
        assert len(window) >= 50, (start, len(window))
        assert sum(window) / len(window) >= 0.90, (start, sum(window) / len(window))
