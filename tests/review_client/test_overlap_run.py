"""An overlap run for the record: three simulated reviewers at known error rates, through the API, every item overlapped.

The review service runs with ``review.overlap_share = 1``, ``overlap_k = 3``,
no adjudication (so each item has exactly the three answers, none chosen for
disagreeing, and theory applies as it is) and Dawid–Skene consolidation;
``labelstream run reviewer-sim --via-api`` runs reviewers ``sim-1``..``sim-3``
with error rates 0.05, 0.2 and 0.35 over the label set cat, dog, bird, truth
uniform. What the service reports (``GET /api/v1/stats``) and publishes (the
consensus corrections) is checked three ways:

- **faithfully carried**: every item consolidated once, with exactly the
  answers the simulated reviewers' seeded choices say they gave; the service's
  kappa, alpha and agreement-with-consensus equal a recomputation from those
  published answers (alpha by the independent ``krippendorff`` package too);
- **against theory** (``tests/reviewer_simulation.py`` enumerates the exact
  expectations): kappa and alpha within three standard errors of their
  expected values (Cohen's large-sample error for each pair's kappa, the delta
  method's for alpha) — a correct run falls outside in about 3 of 1000;
- **against the truth**: Dawid–Skene ranks the reviewers in their true order
  and estimates each one's accuracy within 0.1 of their real share of right
  answers, and its consensus labels are at least as accurate as majority's
  expected 92.4 % less three standard errors.

Why 0.1 for the accuracy estimates: with a few hundred items Dawid–Skene
underestimates the best reviewer (by 0.04 on average at 400 items for these
rates; batch EM over the same items does the same, the finite-sample bias of
the estimate, which shrinks to 0.015 at 3000 items); over 300 seeded runs of
the same procedure offline the worst estimate was off by 0.091. Whether
Dawid–Skene beats majority is asserted where it has the power to show it
(``tests/core/test_consensus.py``: 3000 items, ten seeds); on 400 items the
expected gain is 3 items with a standard deviation of 4, so it is reported,
not asserted.

Figures: ``LABELSTREAM_OVERLAP_ITEMS`` (default 400), ``LABELSTREAM_OVERLAP_SEED``,
and ``LABELSTREAM_OVERLAP_REPORT=FILE`` writes them as JSON; ``pytest -s`` prints them.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import time

import numpy as np
import pytest
from client_support import (
    LABELS,
    LABELSTREAM,
    cli_env,
    client,
    corrections,
    new_token,
    publish_requests,
    request,
    review_stack,
    url,
    wait_enqueued,
    wait_for,
    write_truth,
)

from labelstream.core.agreement import AgreementTracker, cohen_kappa, krippendorff_alpha
from labelstream.core.consensus import MajorityConsensus
from labelstream.review_client.simulated import Behaviour
from reviewer_simulation import ReviewerPanel

pytestmark = pytest.mark.integration

ITEMS = int(os.environ.get("LABELSTREAM_OVERLAP_ITEMS", "400"))
SEED = int(os.environ.get("LABELSTREAM_OVERLAP_SEED", "11"))
ERROR_RATES = {"sim-1": 0.05, "sim-2": 0.2, "sim-3": 0.35}
PANEL = ReviewerPanel(tuple(LABELS), tuple(ERROR_RATES.values()))
WINDOW = AgreementTracker().window  # the service's agreement window: the last WINDOW items


def test_an_overlap_run_through_the_api_measures_agreement_and_reviewer_accuracy(redis_up, tmp_path):
    settings, review = review_stack(redis_up, tmp_path, overlap_share=1.0, overlap_k=3, adjudication=False,
                                    consolidation="dawid_skene", undo_seconds=0.0, lease_seconds=60.0)
    rng = random.Random(SEED)
    truth = {f"ov{i:05d}": rng.choice(LABELS) for i in range(ITEMS)}
    try:
        publish_requests(settings, [request(record_id, priority=0.5) for record_id in truth])
        observer = new_token(settings, "observer")
        with client(review, observer) as api:
            wait_enqueued(api, ITEMS, timeout=120)
            started = time.monotonic()
            # every item is in the queue before the reviewers start (no lease expires, none is skipped): once every
            # reviewer has claimed in vain since the last answer anyone gave, no item can come, so 1 s of that ends
            # the run (stop_when_idle; an empty claim sent before another reviewer's answer to an overlap item does
            # not count: that answer puts the item back in line, see SimulatedReviewers.idle)
            sim = subprocess.run(
                [LABELSTREAM, "run", "reviewer-sim", "--via-api", "--url", url(review),
                 "--data", str(write_truth(tmp_path / "truth.jsonl", truth)), "--label-column", "label", "--id-column", "id",
                 "--reviewers", "3", "--error-rate", ",".join(map(str, ERROR_RATES.values())), "--seed", str(SEED),
                 "--stop-when-idle", "1", "--json", "--log-level", "warning"],
                env=cli_env(settings), capture_output=True, text=True, timeout=60 + ITEMS * 3,
            )
            elapsed = time.monotonic() - started
            assert sim.returncode == 0, sim.stderr[-3000:]
            tallies = json.loads(sim.stdout.strip().splitlines()[-1])["reviewers"]

            def all_consolidated() -> list[dict]:
                found = [c for c in corrections(settings) if c["kind"] == "consensus"]
                return found if len(found) >= ITEMS else []

            consensus = {c["id"]: c for c in wait_for(all_consolidated, 120, f"{ITEMS} consensus corrections")}
            agreement = api.get("/api/v1/stats").json()["agreement"]
    finally:
        review.stop(20)

    # -- faithfully carried ----------------------------------------------------------------------
    assert set(consensus) == set(truth)
    assert {name: tally["answered"] for name, tally in tallies.items()} == {name: ITEMS for name in ERROR_RATES}
    behaviour = {name: Behaviour(rate, seed=SEED) for name, rate in ERROR_RATES.items()}
    answers = {record_id: consensus[record_id]["answers"] for record_id in truth}
    for record_id, given in answers.items():
        assert given == {name: behaviour[name].decide(name, record_id, truth[record_id], LABELS).label for name in given}
        assert sorted(given) == sorted(ERROR_RATES)
    assert all(c["consolidation"] == "dawid_skene" and not c["adjudicated"] for c in consensus.values())
    real_accuracy = {name: sum(answers[i][name] == truth[i] for i in truth) / ITEMS for name in ERROR_RATES}
    for name, rate in ERROR_RATES.items():  # the simulated reviewers err as told (3 binomial standard errors)
        assert abs((1 - real_accuracy[name]) - rate) <= 3 * math.sqrt(rate * (1 - rate) / ITEMS), (name, real_accuracy)
    pairs = [("sim-1", "sim-2"), ("sim-1", "sim-3"), ("sim-2", "sim-3")]
    if ITEMS <= WINDOW:  # the service's window holds every item: its figures are exactly those of the answers
        items = list(answers.values())
        kappas = [cohen_kappa([(item[a], item[b]) for item in items]) for a, b in pairs]
        assert agreement["kappa"] == pytest.approx(sum(kappas) / 3, abs=1e-9)
        assert agreement["alpha"] == pytest.approx(krippendorff_alpha(items), abs=1e-9)
        assert agreement["alpha"] == pytest.approx(_krippendorff_package(items), abs=1e-9)
        labels = {record_id: consensus[record_id]["label"] for record_id in truth}
        assert agreement["consensus_agreement"] == pytest.approx(
            {name: sum(answers[i][name] == labels[i] for i in truth) / ITEMS for name in ERROR_RATES}, abs=1e-9)

    # -- against theory ----------------------------------------------------------------------------
    n = min(ITEMS, WINDOW)
    expected_kappa = sum(PANEL.expected_kappa(i, j)[0] for i, j in [(0, 1), (0, 2), (1, 2)]) / 3
    kappa_error = sum(PANEL.kappa_standard_error(i, j, n) for i, j in [(0, 1), (0, 2), (1, 2)]) / 3  # >= the mean's
    expected_alpha, alpha_error = PANEL.expected_alpha(n)
    assert abs(agreement["kappa"] - expected_kappa) <= 3 * kappa_error, (agreement["kappa"], expected_kappa, kappa_error)
    assert abs(agreement["alpha"] - expected_alpha) <= 3 * alpha_error, (agreement["alpha"], expected_alpha, alpha_error)

    # -- against the truth -------------------------------------------------------------------------
    estimated = agreement["accuracy_estimate"]
    assert estimated["sim-1"] > estimated["sim-2"] > estimated["sim-3"], estimated
    for name in ERROR_RATES:
        assert abs(estimated[name] - real_accuracy[name]) <= 0.1, (name, estimated, real_accuracy)
    dawid_skene = sum(consensus[i]["label"] == truth[i] for i in truth) / ITEMS
    majority = sum(MajorityConsensus().predict_one(answers[i]) == truth[i] for i in truth) / ITEMS
    p = PANEL.majority_accuracy()
    assert dawid_skene >= p - 3 * math.sqrt(p * (1 - p) / ITEMS), (dawid_skene, majority)

    figures = {
        "items": ITEMS, "seed": SEED, "error_rates": ERROR_RATES, "seconds": round(elapsed, 1),
        "answers_per_minute": round(3 * ITEMS / elapsed * 60, 1),
        "kappa": round(agreement["kappa"], 4), "kappa_expected": round(expected_kappa, 4), "kappa_se": round(kappa_error, 4),
        "alpha": round(agreement["alpha"], 4), "alpha_expected": round(expected_alpha, 4), "alpha_se": round(alpha_error, 4),
        "accuracy_estimate": {k: round(v, 4) for k, v in estimated.items()},
        "accuracy_real": {k: round(v, 4) for k, v in real_accuracy.items()},
        "consensus_accuracy": {"dawid_skene": dawid_skene, "majority_same_answers": majority,
                               "majority_expected": round(p, 4), "bayes_expected": round(PANEL.bayes_accuracy(), 4)},
        "consensus_agreement": {k: round(v, 4) for k, v in agreement["consensus_agreement"].items()},
    }
    print(json.dumps(figures, indent=1))
    if os.environ.get("LABELSTREAM_OVERLAP_REPORT"):
        with open(os.environ["LABELSTREAM_OVERLAP_REPORT"], "w") as report:
            json.dump(figures, report, indent=1)


def _krippendorff_package(items: list[dict[str, str]]) -> float:
    import krippendorff

    reviewers = sorted({name for item in items for name in item})
    codes = {label: float(i) for i, label in enumerate(LABELS)}
    data = np.array([[codes[item[name]] if name in item else np.nan for item in items] for name in reviewers])
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
