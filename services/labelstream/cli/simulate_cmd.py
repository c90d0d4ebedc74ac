"""``labelstream simulate``: a labeled file through the core engine with a simulated reviewer, and its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, key_values, print_json, progress_bar, say
from labelstream.errors import LabelstreamError

if TYPE_CHECKING:
    from labelstream.settings import Settings
    from labelstream.simulate.reviewer import SimulatedReviewer
    from labelstream.simulate.reviewer_pool import ReviewerPool

Opt = Optional  # typer needs Optional[...] for optional options


def simulate(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option("--data", help="Labeled .csv (with a header) or .jsonl file.", dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column holding the true label.")],
    id_column: Annotated[Opt[str], typer.Option(help="Column holding the record id (default: <file>-<line>).")] = None,
    text_column: Annotated[Opt[str], typer.Option(help="Column holding the record's text (text.featurizer; in process only).")] = None,
    model: Annotated[Opt[str], typer.Option(help="Model: logistic, hoeffding_adaptive_tree, arf, gaussian_nb (default: model.name, logistic).")] = None,
    policy: Annotated[Opt[str], typer.Option(help="Policy: contract, threshold, active_learner (default: policy.name, contract).")] = None,
    strategy: Annotated[Opt[str], typer.Option(help="Query strategy (default: policy.strategy, split).")] = None,
    target_precision: Annotated[Opt[float], typer.Option(help="Precision target of auto-labels (default: policy.target_precision, 0.95).")] = None,
    review_budget: Annotated[Opt[float], typer.Option(help="Share of the stream humans may review (default: policy.review_budget_share, 0.3).")] = None,
    seed: Annotated[Opt[int], typer.Option(help="Seed of the model and of the policy's draws.")] = None,
    report: Annotated[Opt[Path], typer.Option(help="Write the JSON report here.")] = None,
    window: Annotated[int, typer.Option(help="Records per window in the report.", min=1)] = 500,
    limit: Annotated[Opt[int], typer.Option(help="Only the first N rows.", min=1)] = None,
    batch_size: Annotated[int, typer.Option(help="Records routed together; answers arrive after their batch.", min=1)] = 1,
    records_per_second: Annotated[float, typer.Option(help="Pace of the virtual clock (per-minute budgets, evidence age).", min=0.001)] = 10.0,
    deferred_ttl: Annotated[Opt[int], typer.Option(
        metavar="N", min=1,
        help="A deferred record is re-scored at new model versions for N records after it, then dropped, as the "
             "services drop it when its Redis TTL ends (the coverage bench uses 2000; default: until the end; in process only).",
    )] = None,
    via_kafka: Annotated[bool, typer.Option("--via-kafka", help="Run through the real services on the local stack.")] = False,
    reviewer_delay: Annotated[str, typer.Option(
        "--reviewer-delay", "--reviewer-delay-records",
        help="Answers arrive this many records after their record: N, or exp:N (exponential, mean N; in process only).",
    )] = "0",
    reviewer_error_rate: Annotated[str, typer.Option(
        metavar="RATE[,RATE...]",
        help="Probability that an answer is wrong. Several, comma-separated (0.01,0.02,0.25): a pool of reviewers, "
             "one rate each, who share the answers (--reviewer-shares), each also answering the gold items of their "
             "own records (in process only).",
    )] = "0.0",
    reviewer_shares: Annotated[Opt[str], typer.Option(
        metavar="W,W,...", help="With several reviewers: each one's share of the answers, comma-separated, in the "
        "order of --reviewer-error-rate (any positive weights; default: equal). A held reviewer's share goes to the others.",
    )] = None,
    reviewer_errors: Annotated[str, typer.Option(
        help="A wrong answer is another label at random (independent) or the model's wrong proposal (with_model); "
             "follows_model: right where the model is, accepting its wrong proposal at --reviewer-error-rate.",
    )] = "independent",
    gold_share: Annotated[Opt[float], typer.Option(
        "--gold-share", metavar="S", min=0, max=1,
        help="For this share of reviewed records the reviewer also answers a gold item (a record of known label, "
             "wrong at --reviewer-error-rate), spending the review budget, and the contract lowers its agreement bar "
             "to the reviewer accuracy they prove (review.gold_share, policy.reviewer_accuracy_from_gold; in process only).",
    )] = None,
    gold_hold_below: Annotated[Opt[float], typer.Option(
        "--gold-hold-below", metavar="F", min=0, max=1,
        help="With several reviewers and --gold-share: hold a reviewer whose gold accuracy is, with 95 % confidence, "
             "below F, by the review service's rule (review.gold_hold_below, gold_hold_min_answers): they answer "
             "nothing more, and the policy's gold bound drops their gold answers (in process only).",
    )] = None,
    rate: Annotated[float, typer.Option(help="--via-kafka: records produced per second.", min=1)] = 200.0,
    as_json: JsonFlag = False,
    lf: Annotated[Opt[list[str]], typer.Option(
        "--lf", metavar="<module[:name]>", help='Labeling function "pkg.module:name" or "pkg.module" (repeatable; replaces weak.functions).',
    )] = None,
) -> None:
    """Stream a labeled file through the labeling core; reviews are answered from the label column.

    Prints a summary on stdout (--json: the whole report, per class and per window; --report also writes it).
    Precision is always measured against the label column, also when the simulated reviewer errs.
    """
    from labelstream.simulate.reviewer import SimulatedReviewer
    from labelstream.simulate.reviewer_pool import parse_rates

    rates = parse_rates(reviewer_error_rate)
    overrides = _overrides(model, policy, strategy, target_precision, review_budget, seed)
    if lf:
        overrides["weak"] = {"functions": lf}
    if gold_share is not None:
        if via_kafka:
            raise LabelstreamError("--gold-share works in process only; with --via-kafka set review.gold_share")
        overrides["review"] = {"gold_share": gold_share}
        overrides.setdefault("policy", {})["reviewer_accuracy_from_gold"] = gold_share > 0
    if gold_hold_below is not None:
        if len(rates) < 2:
            raise LabelstreamError("--gold-hold-below holds one of several reviewers: give --reviewer-error-rate one "
                                   "rate a reviewer, e.g. 0.01,0.02,0.25")
        if not gold_share:
            raise LabelstreamError("--gold-hold-below reads the reviewers' gold answers: give --gold-share too, e.g. 0.1")
        overrides.setdefault("review", {})["gold_hold_below"] = gold_hold_below
    if reviewer_shares is not None and len(rates) < 2:
        raise LabelstreamError("--reviewer-shares needs several reviewers: give --reviewer-error-rate one rate a reviewer")
    settings = state(ctx).settings(**overrides)
    reviewer: SimulatedReviewer | ReviewerPool
    if len(rates) == 1:
        reviewer = SimulatedReviewer(reviewer_delay, rates[0], reviewer_errors, seed=seed or 0)  # type: ignore[arg-type]
    else:
        if via_kafka:
            raise LabelstreamError("several --reviewer-error-rate values work in process only (the services' reviewer "
                                   "simulator answers as one reviewer)")
        reviewer = _pool(settings, rates, reviewer_shares, reviewer_delay, reviewer_errors, seed or 0)
    if via_kafka and text_column:
        raise LabelstreamError("--text-column works in process only; drop --via-kafka (labelstream produce takes --text-column)")
    if via_kafka and deferred_ttl is not None:
        raise LabelstreamError("--deferred-ttl works in process only; with --via-kafka the services keep a deferred "
                               "record for redis.record_ttl_seconds")
    if via_kafka:
        assert isinstance(reviewer, SimulatedReviewer)
        if reviewer.delay_kind != "fixed" or reviewer_errors != "independent":
            raise LabelstreamError("--via-kafka takes a fixed --reviewer-delay and independent --reviewer-errors")
        result = _run_via_kafka(settings, data, label_column, id_column, rate, reviewer.delay_mean / rate, limit,
                                1.0 - rates[0])
    else:
        result = _run_in_process(
            settings, data, label_column, id_column, window, limit, batch_size, records_per_second, reviewer,
            text_column=text_column, deferred_ttl=deferred_ttl,
        )
        result["deferred_ttl"] = deferred_ttl
    result["reviewer"] = {"delay": reviewer_delay, "error_rate": rates[0] if len(rates) == 1 else rates,
                          "errors": reviewer_errors}
    if report is not None:
        report.write_text(json.dumps(result, indent=2, default=str))
        say(f"report written to {report}")
    if as_json:
        print_json(result)
    else:
        _print_summary(result, data)


def _pool(
    settings: Settings, rates: list[float], shares: str | None, delay: str, errors: str, seed: int,
) -> ReviewerPool:
    """The pool of ``--reviewer-error-rate``'s reviewers (``r1``, ``r2``, ...), with the settings' hold rule."""
    from labelstream.simulate.reviewer_pool import ReviewerPool, parse_shares

    return ReviewerPool(
        rates, None if shares is None else parse_shares(shares, len(rates)), delay=delay, errors=errors,  # type: ignore[arg-type]
        hold_below=settings.review.gold_hold_below, hold_min_answers=settings.review.gold_hold_min_answers, seed=seed,
    )


def _overrides(
    model: str | None,
    policy: str | None,
    strategy: str | None,
    target_precision: float | None,
    review_budget: float | None,
    seed: int | None,
) -> dict[str, dict[str, Any]]:
    """Settings sections from the flags that were given (validated, with the setting named, by load_settings)."""
    model_section = {"name": model, "seed": seed}
    policy_section = {
        "name": policy, "strategy": strategy, "target_precision": target_precision,
        "review_budget_share": review_budget, "seed": seed,
    }
    sections = {"model": model_section, "policy": policy_section}
    return {name: {k: v for k, v in values.items() if v is not None} for name, values in sections.items() if any(
        v is not None for v in values.values()
    )}


def _run_in_process(
    settings: Settings,
    data: Path,
    label_column: str,
    id_column: str | None,
    window: int,
    limit: int | None,
    batch_size: int,
    records_per_second: float,
    reviewer: SimulatedReviewer | ReviewerPool,
    text_column: str | None = None,
    deferred_ttl: int | None = None,
) -> dict[str, Any]:
    import itertools

    from labelstream.datafile import count_rows, open_rows

    rows = open_rows(data, label_column=label_column, id_column=id_column, text_column=text_column)
    first = next(rows, None)  # a missing column fails here, before the engine (river) loads
    rows = itertools.chain([] if first is None else [first], rows)
    from labelstream.simulate.runner import Simulation

    total = count_rows(data) if limit is None else min(limit, count_rows(data))
    progress = progress_bar(TextColumn("[bold]simulating[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
    with progress:
        task = progress.add_task("records", total=total)
        simulation = Simulation(
            settings, window, batch_size, records_per_second, deferred_ttl=deferred_ttl,
            on_record=lambda done: progress.update(task, completed=done), reviewer=reviewer,
        )
        result = simulation.run(_first(rows, limit))
    for line, reason in result.invalid_rows[:10]:
        say(f"line {line}: {reason}")
    if result.invalid_rows:
        unlisted = len(result.invalid_rows) - 10
        say(f"{data.name}: {len(result.invalid_rows)} invalid row(s) skipped, not in the figures"
            + (f" ({unlisted} not listed)" if unlisted > 0 else ""))
    return result.report


def _run_via_kafka(
    settings: Settings,
    data: Path,
    label_column: str,
    id_column: str | None,
    rate: float,
    reviewer_seconds: float,
    limit: int | None,
    reviewer_accuracy: float,
) -> dict[str, Any]:
    """The same file through the real services (``labelstream.simulate.via_kafka``)."""
    if limit is not None:
        raise LabelstreamError("--limit is not supported with --via-kafka; cut the file instead")
    try:
        from labelstream.simulate.via_kafka import KafkaRun
    except ImportError as exc:  # the services side is not installed in this build
        raise LabelstreamError(f"--via-kafka is not available yet ({exc})") from exc
    from labelstream.processes import interrupt_on_sigterm

    interrupt_on_sigterm()  # `kill` stops the services it starts too, as Ctrl-C does
    return KafkaRun(
        settings, data, label_column, id_column, rate=rate, reviewer_delay=reviewer_seconds,
        reviewer_accuracy=reviewer_accuracy,
    ).run()


def _first(rows, limit: int | None):
    for number, row in enumerate(rows):
        if limit is not None and number >= limit:
            return
        yield row


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_summary(report: dict[str, Any], data: Path) -> None:
    settings = report["settings"]
    title = f"{data.name}: {settings['model']['name']}, policy {settings['policy']['name']}"
    if settings["policy"]["name"] != "threshold":
        title += f" ({settings['policy']['strategy']})"
    audit = report.get("audit_ci")
    rows = [
        ("records", str(report["records"])),
        ("auto-labeled", _percent(report["auto_share"])),
        ("auto precision", _percent(report["auto_precision"])),
        ("reviewed", _percent(report["review_share"])),
        ("deferred (no label)", _percent(report["deferred_share"])),
        ("label accuracy", _percent(report["label_accuracy"])),
        ("of which relabeled", _percent(report.get("relabeled_share"))),
        (
            "audit estimate",
            "-" if audit is None else f"{_percent(report['audit_precision_estimate'])} [{audit[0]:.1%}, {audit[1]:.1%}] "
            f"({report['audit_count']} audits)",
        ),
        ("drift events", str(len(report["drift_events"]))),
        *([("gold answers (right)", f"{report['gold_answers']} ({report['gold_right']})")] if report.get("gold_answers") else []),
        ("model versions", str(report.get("model_versions", "-"))),
    ]
    key_values(rows, title=title).print()
    for member in report.get("reviewers", []):
        holds = ", ".join(f"held at record {a}" for a in member["holds"]) or "never held"
        print(f"reviewer {member['name']} (wrong {member['error_rate']:.0%}): {member['answers']} answers, gold "
              f"{member['gold_right']}/{member['gold_answers']} right, {holds}")
    worst = [w for w in report["windows"] if w["auto_precision"] is not None]
    if worst:
        low = min(worst, key=lambda w: w["auto_precision"])
        print(f"lowest window auto precision: {_percent(low['auto_precision'])} (records {low['start']}-{low['end']})")
    if "labeling_functions" in report:
        from labelstream.cli.lf_cmd import print_lf_table

        section = report["labeling_functions"]
        print_lf_table(section["functions"], f"labeling functions ({section['combine']})")
        print(
            f"weak labels (auto-labels that combined LF votes): {_percent(section['weak_share'])} of records, "
            f"precision {_percent(section['weak_precision'])}"
        )
