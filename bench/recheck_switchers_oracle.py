#!/usr/bin/env python3
"""The ceiling of a per-class recheck normaliser: the recheck given the EXACT switcher charge (a simulation-only oracle).

    nice -n 10 .venv/bin/python bench/recheck_switchers_oracle.py --seeds 42,1,2 --baseline --jobs 2
    nice -n 10 .venv/bin/python bench/recheck_switchers_oracle.py --seeds 42,1,2 --no-charge --jobs 2

The recheck (``core/calibration_recheck.py``) weighs an answer by ``p_least / p_review``, ``p_least`` the least
review probability of *any* record when it was routed (docs/contract.md, "Where its cost comes from"). This script
measures what a per-class normaliser could give at best: for a tested class ``c``, a record's normaliser is
``ℓ_c`` = the uniform admission rate if ``c`` had no threshold in force when the record was routed, else the global
``p_least``. Answers with ``p_review >= ℓ_c`` count ``ℓ_c / p_review`` (at most 1); every record with
``p_review < ℓ_c`` (a *switcher* if the new version puts it in ``c``'s tested region: routed in another class's
auto region or strategy floor, reviewed at about the audit rate) is charged as a wrong answer,
``log(1 - λ ℓ_c m)`` per bet, **reviewed or not** — counted from every record of the generation, which only the
simulation has. That wealth is a non-negative supermartingale under the hypothesis (docs/contract.md, "A per-class
normaliser with the switchers charged"), so the figures are the ceiling of any sound version that must bound the
switchers from audits instead (it can only charge more). ``--no-charge`` drops the charge (NOT sound) to size it.

Runs the coverage table's jobs (instant reviewer) on SEA 20k and ``sea_drift`` with the oracle patched in, and
prints auto share and its ratio to each seed's hindsight oracle (``--oracle`` gives the oracle shares to skip their
runs: ``stream:seed=share,...``; else they are run).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from labelstream.core.calibration_recheck import ANY_CLASS, VersionRecheck
from labelstream.core.policy import contract as contract_module
from labelstream.core.policy.contract_evidence import ContractEvidence, selection_of
from labelstream.simulate.coverage import DEFAULT, ORACLE_GRID, REVIEWERS, Job, hindsight_oracle
from labelstream.simulate.datasets import DATASETS, export_dataset
from labelstream.simulate.quality import BenchStream

STREAMS = {"sea": 20_000, "sea_drift": None}
NO_CHARGE = False  # --no-charge: the switchers are not charged (NOT sound: sizes what the charge costs)


class OracleRecheck(VersionRecheck):
    """The recheck with per-class normalisers and every switcher of the generation charged as a wrong answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[tuple[dict[str, float], int, float, float, frozenset[str]]] = []  # x, gen, p, u, in force
        self.full: list[
            tuple[dict[str, float], str, float, float, float, frozenset[str]]
        ] = []  # x, y, p, least, u, in force

    def reset(self) -> None:
        super().reset()
        self.full.clear()

    def keep_full(
        self, x: dict[str, float], answer: str, p: float, least: float, u: float, in_force: frozenset[str]
    ) -> None:
        self.full.append((dict(x), answer, p, least, u, in_force))

    def _log_wealth(self, key, kept, predictions, lambdas, bar, agree=False):  # noqa: ANN001, ANN202 - the base's
        if key == ANY_CLASS:
            return super()._log_wealth(key, kept, predictions, lambdas, bar, agree)
        full = self.full
        preds = self._full_predictions
        per_bin = np.zeros((len(self.grid), len(lambdas)))
        rows = []
        for (_x, answer, p, least, u, in_force), prediction in zip(full, preds, strict=True):
            if prediction.label != key:
                continue
            ell = least if key in in_force else u
            if p < ell - 1e-12:
                continue  # a switcher: charged below from the records, whatever its answer
            rows.append((prediction.confidence, float(agree or prediction.label == answer), min(ell / p, 1.0)))
        if rows:
            scores, agrees, weights = np.asarray(rows).T
            bins = np.maximum(np.searchsorted(self._grid, scores, side="right") - 1, 0)
            np.add.at(per_bin, bins, np.log1p(np.outer(weights * (agrees - bar), lambdas)))
        charged = [
            (pred.confidence, ell)
            for (ell, pred) in zip(self._switch_ell.get(key, ()), self._switch_preds.get(key, ()), strict=True)
            if pred.label == key
        ]
        self.charged_last[key] = len(charged)
        if charged and not NO_CHARGE:
            scores, ells = np.asarray(charged).T
            bins = np.maximum(np.searchsorted(self._grid, scores, side="right") - 1, 0)
            np.add.at(per_bin, bins, np.log1p(-np.outer(ells * bar, lambdas)))
        above = np.flip(np.cumsum(np.flip(per_bin, axis=0), axis=0), axis=0)
        top = above.max(axis=1)
        return top + np.log(np.exp(above - top[:, None]).mean(axis=1))

    def run(self, model, thresholds, bar, generation=0, held_out=False):  # noqa: ANN001, ANN201 - the base's
        self.charged_last: dict[str, int] = {}
        self._full_predictions = model.predict_many([f[0] for f in self.full]) if self.full else []
        # the switchers' candidates: records of the current generation routed at p below some class's normaliser
        gen = max(generation, self.generation)
        self._switch_ell, self._switch_preds = {}, {}
        for key, t in thresholds.items():
            if t is None or key == ANY_CLASS:
                continue
            cand = [
                (x, u) for x, g, p, u, in_force in self.records if g == gen and key not in in_force and p < u - 1e-12
            ]
            self._switch_ell[key] = [u for _, u in cand]
            self._switch_preds[key] = model.predict_many([x for x, _ in cand]) if cand else []
        return super().run(model, thresholds, bar, generation, held_out)


def _patch() -> None:
    original_keep = ContractEvidence.keep_answer

    def keep_answer(self: ContractEvidence, x, evidence) -> None:  # noqa: ANN001
        original_keep(self, x, evidence)
        if not isinstance(self.recheck, OracleRecheck) or evidence.prediction.label is None:
            return
        context = evidence.context
        selection, least = selection_of(context), context.get("p_least")
        if selection is None or least is None or context.get("generation") != self.generation:
            return
        self.recheck.keep_full(
            x,
            evidence.true_label,
            selection.probability,
            float(least),
            float(context.get("_u", least)),
            context.get("_in_force", frozenset()),
        )

    ContractEvidence.keep_answer = keep_answer

    original_decide_many = contract_module.ContractPolicy.decide_many

    def decide_many(self, predictions, n_learned, xs=None):  # noqa: ANN001, ANN202
        u_before = self.budget.admission_rate()
        cs = self._cold_start
        n = len(predictions)
        cold_prefix = n if n_learned < cs.corrections else max(0, min(n, cs.records - cs._seen))
        in_force = frozenset(k for k, t in self.thresholds().items() if t is not None)
        decisions = original_decide_many(self, predictions, n_learned, xs)
        u = min(u_before, self.budget.admission_rate())
        recheck = self.evidence.recheck
        for i, decision in enumerate(decisions):
            context = decision.context
            cold = i < cold_prefix or predictions[i].label is None  # every class's normaliser is the global one
            least = float(context.get("p_least", 1.0))
            mine_u = least if cold else max(u, least)
            if "_u" not in context:  # shared contexts of plain auto-labels: the same values
                context["_u"], context["_in_force"] = mine_u, in_force
            if isinstance(recheck, OracleRecheck) and xs is not None and predictions[i].label is not None:
                recheck.records.append(
                    (dict(xs[i]), int(context["generation"]), float(context.get("p_review", 1.0)), mine_u, in_force)
                )
        return decisions

    contract_module.ContractPolicy.decide_many = decide_many

    from labelstream.core import build

    original_build = build.build_recheck

    def build_recheck(policy):  # noqa: ANN001, ANN202
        base = original_build(policy)
        if base is None:
            return None
        return OracleRecheck(
            base.alpha,
            base._kept.maxlen,
            scan_starts=policy.version_recheck_starts,
            patience=base.patience,
            skip_hopeless=base.skip_hopeless,
        )

    build.build_recheck = build_recheck


def _run(args: tuple[Job, bool, bool]) -> tuple[str, int, str, Any]:
    global NO_CHARGE
    job, oracle, no_charge = args
    if oracle:
        _patch()
        NO_CHARGE = no_charge
    label = (
        ("per class, switchers not charged (unsound)" if no_charge else "exact switchers")
        if oracle
        else job.variant.name
    )
    return job.stream.dataset, job.stream.seed, label, job.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--streams", default="sea,sea_drift")
    parser.add_argument("--baseline", action="store_true", help="also run the default recheck")
    parser.add_argument(
        "--no-charge", action="store_true", help="also run the per-class weights without the charge (unsound)"
    )
    parser.add_argument("--oracle", default="", help="known hindsight-oracle auto shares, stream:seed=share,...")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    known = {}
    for item in filter(None, args.oracle.split(",")):
        name_seed, share = item.split("=")
        name, seed = name_seed.split(":")
        known[(name, int(seed))] = float(share)
    streams = args.streams.split(",")
    with tempfile.TemporaryDirectory(prefix="labelstream-switchers-") as tmp:
        work: list[tuple[Job, bool, bool]] = []
        for name in streams:
            for seed in seeds:
                stream = BenchStream(name, DATASETS[name].model, STREAMS[name], seed)
                path = Path(tmp) / f"{name}-{seed}.csv"
                export_dataset(name, path, STREAMS[name], seed)
                work.append((Job(stream, path, REVIEWERS[0], DEFAULT), True, False))
                if args.no_charge:
                    work.append((Job(stream, path, REVIEWERS[0], DEFAULT), True, True))
                if args.baseline:
                    work.append((Job(stream, path, REVIEWERS[0], DEFAULT), False, False))
                if (name, seed) not in known:
                    work += [(Job(stream, path, REVIEWERS[0], DEFAULT, t), False, False) for t in ORACLE_GRID]
        with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool:
            results = pool.map(_run, work, chunksize=1)
    ratios: dict[tuple[str, str], list[float]] = {}
    print("| stream | seed | variant | auto share | precision | review share | worst window | oracle | / oracle |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in streams:
        for seed in seeds:
            mine = [(label, run) for s_name, s, label, run in results if s_name == name and s == seed]
            best = known.get((name, seed))
            if best is None:
                found = hindsight_oracle([run for _, run in mine], 0.95)
                best = found.auto_share if found else None
            for label, run in mine:
                if run.threshold is not None:
                    continue
                ratio = run.auto_share / best if best else None
                if ratio is not None:
                    ratios.setdefault((name, label), []).append(ratio)
                worst = "-" if run.worst_window is None else f"{run.worst_window:.1%}"
                print(
                    f"| {name} | {seed} | {label} | {run.auto_share:.2%} | {run.auto_precision:.1%} | "
                    f"{run.review_share:.1%} | {worst} | {best if best is None else f'{best:.2%}'} | "
                    f"{'-' if ratio is None else f'{ratio:.3f}'} |",
                    flush=True,
                )
    for (name, label), values in ratios.items():
        print(f"median / oracle, {name}, {label}: {statistics.median(values):.3f} (seeds {args.seeds})")


if __name__ == "__main__":
    main()
