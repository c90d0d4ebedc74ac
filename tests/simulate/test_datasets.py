"""Datasets from river, written to CSV/JSONL and read back as simulate reads them."""

from __future__ import annotations

import doctest

import pytest

import labelstream.simulate.datasets as datasets_module
from labelstream.datafile import open_rows
from labelstream.errors import InputFileError
from labelstream.simulate.datasets import DATASETS, export_dataset


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_export_round_trips_with_string_labels(tmp_path, suffix):
    path = tmp_path / f"phishing.{suffix}"
    assert export_dataset("phishing", path, size=50) == 50
    rows = list(open_rows(path, label_column="label", id_column="id"))
    assert len(rows) == 50 and all(row.payload is not None for row in rows)
    assert {row.label for row in rows} <= {"True", "False"}
    assert rows[0].payload["id"] == "phishing-0" and "label" not in rows[0].payload["features"]


def test_abrupt_drift_switches_concept_halfway(tmp_path):
    path = tmp_path / "sea.csv"
    export_dataset("sea_drift", path, size=4000, seed=1)
    rows = list(open_rows(path, label_column="label"))

    def share_true(chunk):
        return sum(r.label == "True" for r in chunk) / len(chunk)

    assert DATASETS["sea_drift"].drift_at(4000) == 2000
    assert share_true(rows[2000:]) < share_true(rows[:2000]) - 0.05  # threshold 8 -> 9.5: fewer positives


def test_same_seed_same_stream(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    export_dataset("agrawal_drift", first, size=100, seed=7)
    export_dataset("agrawal_drift", second, size=100, seed=7)
    assert first.read_bytes() == second.read_bytes()


def test_unknown_dataset_lists_the_names(tmp_path):
    with pytest.raises(InputFileError, match="choose one of phishing"):
        export_dataset("iris", tmp_path / "x.csv")


def test_doctests():
    assert doctest.testmod(datasets_module).failed == 0
