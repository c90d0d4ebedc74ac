"""``labelstream models``: the model versions kept in Redis, rollback, warm start from labeled history,
and signed model files (export / import)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, key_values, print_json, progress_bar, say
from labelstream.errors import LabelstreamError

if TYPE_CHECKING:
    from labelstream.core.schemas import ModelVersion
    from labelstream.core.snapshot import ModelState
    from labelstream.settings import Settings
    from labelstream.store.models import ModelRegistry

app = command_group("Model versions: list them, roll back, warm-start from labeled history, export and import.")

Opt = Optional  # typer needs Optional[...] for optional options
KeyFile = Annotated[Opt[Path], typer.Option(
    "--key-file", help="File holding the signing key (default: learner.snapshot_hmac_key).", exists=True, dir_okay=False,
)]


def _registry(settings: Settings) -> ModelRegistry:
    # imported here: river (under the model registry) takes seconds to import, and --help should not wait for it
    from labelstream.store.connection import connect
    from labelstream.store.models import ModelRegistry

    return ModelRegistry.from_settings(connect(settings.redis), settings)


@app.command("list")
def list_versions(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The versions kept (learner.keep_versions), newest last, and which one is live."""
    settings = state(ctx).settings()
    registry = _registry(settings)
    latest = registry.latest_version()
    rows = []
    for version in registry.versions():
        snapshot = registry.load(version)
        if snapshot is None:
            continue
        rollback_of = snapshot.metrics.get("rollback_of")
        rows.append({
            "version": version,
            "created": datetime.datetime.fromtimestamp(snapshot.created_at).isoformat(timespec="seconds"),
            "corrections_learned": snapshot.model.n_learned,
            "classes": sorted(snapshot.model.classes),
            "live": version == latest,
            "rollback_of": None if rollback_of is None else int(rollback_of),
            "challenger": bool(snapshot.metrics.get("challenger")),
        })
    if as_json:
        print_json({"model": settings.model.model_name, "live_version": latest, "versions": rows})
        return
    if not rows:
        say(f"model {settings.model.model_name} has no versions yet: the learner publishes one after its first corrections")
        return
    table = Table("version", "created", "corrections learned", "classes", "note", title=f"model {settings.model.model_name}")
    for row in rows:
        note = " ".join(
            part for part in (
                "live" if row["live"] else "",
                f"rollback of v{row['rollback_of']}" if row["rollback_of"] is not None else "",
                "challenger" if row["challenger"] else "",
            ) if part
        )
        table.add_row(row["version"], row["created"].replace("T", " "), row["corrections_learned"], ", ".join(row["classes"]), note)
    table.print()


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(metavar="VERSION", help="The version whose model comes back.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the rollback event).")] = "",
) -> None:
    """Make the model of VERSION live again, as a new version the labelers and the learner adopt."""
    from labelstream.kafka.events import EventPublisher

    settings = state(ctx).settings()
    registry = _registry(settings)
    try:
        announcement = registry.rollback(version, reason)
    except KeyError as exc:
        raise LabelstreamError(str(exc.args[0])) from exc
    _announce(settings, announcement)
    events = EventPublisher(settings, "cli")
    events.publish("rollback", model_name=settings.model.model_name, to_version=version, new_version=announcement.version, reason=reason)
    events.flush(10)
    print(f"version {announcement.version} now holds the model of version {version}; labelers pick it up within seconds")


def _announce(settings: Settings, announcement: ModelVersion) -> None:
    """Tell the labelers and the learner (model-versions topic) that a version is live."""
    from confluent_kafka import Producer

    from labelstream.kafka.config import producer_config

    producer = Producer(producer_config(settings.kafka))
    producer.produce(settings.topics.model_versions, key=settings.model.model_name.encode(), value=announcement.model_dump_json().encode())
    if producer.flush(10):
        raise LabelstreamError(f"the announcement of version {announcement.version} was not delivered; is Kafka reachable (kafka.bootstrap_servers)?")


def _signing_key(settings: Settings, key_file: Path | None) -> bytes:
    if key_file is None:
        return settings.learner.snapshot_hmac_key.get_secret_value().encode()
    key = key_file.read_bytes().strip()
    if not key:
        raise LabelstreamError(f"{key_file} is empty; write the signing key in it")
    return key


def _publish_adopted(
    settings: Settings, model_state: ModelState, metrics: dict[str, float], force: bool, kept: dict[str, Any] | None = None,
) -> ModelVersion:
    """Publish a model that did not come from the learner as the next version; the learner learns on from it.

    ``kept``: the policy's kept answers (``Policy.kept_answers``), stored beside the version before it is
    published, as the learner does for its own versions: a learner starting from it rechecks its next
    version on them (:mod:`labelstream.store.recheck_answers`).
    """
    from labelstream.store.recheck_answers import RecheckAnswers

    registry = _registry(settings)
    latest = registry.load_latest()
    if latest is not None and not force:
        raise LabelstreamError(
            f"model {settings.model.model_name} already has version {latest.version}, which learned from "
            f"{int(latest.metrics.get('corrections_applied', latest.model.n_learned))} answers; pass --force to replace it"
        )
    model_state.version = registry.allocate_version()
    model_state.metrics = {**model_state.metrics, **metrics, "adopt": 1.0}
    # corrections the previous versions learned are not replayed into this model (as on a rollback)
    model_state.source_offsets = dict(latest.source_offsets) if latest is not None else {}
    if kept is not None:
        RecheckAnswers.from_settings(registry.client, settings).save(model_state.version, kept)
    announcement = registry.publish(model_state)
    _announce(settings, announcement)
    return announcement


@app.command("bootstrap")
def bootstrap(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option("--data", help="Labeled history: .csv (with a header) or .jsonl.", exists=True, dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column holding the label.")],
    id_column: Annotated[Opt[str], typer.Option(help="Column holding the record id (default: <file>-<line>).")] = None,
    text_column: Annotated[Opt[str], typer.Option(help="Column holding the record's text (text.featurizer).")] = None,
    holdout: Annotated[float, typer.Option(help="Share of rows held out (at random) as calibration evidence.", min=0, max=0.9)] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the hold-out draw.")] = 0,
    out: Annotated[Opt[Path], typer.Option(help="Write a signed model file here (for models import) instead of publishing.", dir_okay=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Publish even if the model already has versions (they stay for rollback).")] = False,
    key_file: KeyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Train the first model version from labeled history and seed its calibration with a held-out random sample.

    The model learns the rows not held out, in file order; the held-out rows are scored by that model
    and given to the policy as answers to a cold start (docs/warm-start.md says why that evidence is
    valid, and when it is not). Publishes the version (labelers and the learner adopt it within
    seconds), or writes it to --out.
    """
    from labelstream.core.bootstrap import warm_start
    from labelstream.core.build import build_engine, build_policy
    from labelstream.core.decode import DecodeError, RecordDecoder
    from labelstream.core.snapshot import ModelState, dump_snapshot
    from labelstream.datafile import count_rows, open_rows

    settings = state(ctx).settings()
    engine = build_engine(settings)
    engine.model_version = 1
    unlimited = settings.policy.model_copy(update={"review_budget_share": None, "review_budget_per_minute": None})
    decoder = RecordDecoder.from_limits(settings.limits)
    invalid: list[tuple[int, str]] = []

    def labeled(rows: Any) -> Any:
        for row in rows:
            record = None if row.payload is None else decoder.validate(row.payload)
            if record is None or isinstance(record, DecodeError):
                invalid.append((row.line, row.error if record is None else record.message))
            elif row.label is None or row.label == "":
                invalid.append((row.line, f"no value in the label column {label_column!r}"))
            else:
                yield record, row.label

    rows = open_rows(data, label_column=label_column, id_column=id_column, text_column=text_column)
    progress = progress_bar(transient=True)
    with progress:
        task = progress.add_task("training", total=count_rows(data))
        result = warm_start(
            engine, labeled(rows), lambda: build_policy(unlimited, settings.model), holdout, seed,
            on_row=lambda done: progress.update(task, completed=done),
        )
    for line, reason in invalid[:10]:
        say(f"line {line}: {reason} (skipped)")
    if result.trained == 0:
        raise LabelstreamError(f"{data}: no valid labeled row to train on")
    model_state = ModelState(
        model=engine.model, featurizer=engine.featurizer, version=1, policy_state=engine.learned_state(),
        metrics={"corrections_applied": float(result.trained), "bootstrap_trained": float(result.trained),
                 "bootstrap_evidence": float(result.evidence)},
    )
    if out is not None:
        out.write_bytes(dump_snapshot(model_state, _signing_key(settings, key_file)))
        where = f"written to {out} (labelstream models import {out})"
    else:
        announcement = _publish_adopted(settings, model_state, {}, force, kept=engine.policy.kept_answers())
        where = f"published as version {announcement.version}; labelers pick it up within seconds"
    summary = {
        "trained": result.trained, "held_out": result.held_out, "evidence": result.evidence, "kept": result.kept,
        "holdout_accuracy": result.holdout_accuracy, "invalid_rows": len(invalid),
        "thresholds": result.thresholds, "version": model_state.version, "out": None if out is None else str(out),
    }
    if as_json:
        print_json(summary)
    else:
        accuracy = "-" if result.holdout_accuracy is None else f"{result.holdout_accuracy:.1%}"
        proven = ", ".join(f"{k} >= {v:.2f}" for k, v in result.thresholds.items() if v is not None) or "none yet"
        key_values([
            ("rows trained on", result.trained), ("rows held out", result.held_out),
            ("evidence for the calibration", result.evidence), ("held-out accuracy", accuracy),
            ("auto-label thresholds proven", proven), ("invalid rows skipped", len(invalid)),
        ], title=f"model {settings.model.model_name} bootstrapped from {data.name}").print()
    say(f"model {where}")


@app.command("export")
def export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Model file to write.", dir_okay=False)],
    version: Annotated[Opt[int], typer.Option(help="Version to export (default: the live one).")] = None,
    key_file: KeyFile = None,
) -> None:
    """Write a model version (model, featurizer, calibration) to a signed file."""
    from labelstream.core.snapshot import dump_snapshot

    settings = state(ctx).settings()
    registry = _registry(settings)
    chosen = version if version is not None else registry.latest_version()
    model_state = None if chosen is None else registry.load(chosen)
    if model_state is None:
        raise LabelstreamError(f"model {settings.model.model_name} has no version {chosen if chosen is not None else 'yet'}; "
                               "see labelstream models list")
    path.write_bytes(dump_snapshot(model_state, _signing_key(settings, key_file)))
    say(f"version {chosen} of model {settings.model.model_name} written to {path} (signed)")


@app.command("import")
def import_model(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Model file (from models export or bootstrap --out).", exists=True, dir_okay=False)],
    trust: Annotated[bool, typer.Option(
        "--trust", help="Load a file that is unsigned or signed with another key (loading runs code the file names).",
    )] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a model that already has versions (they stay for rollback).")] = False,
    key_file: KeyFile = None,
) -> None:
    """Publish a signed model file as the next version; an unsigned one is refused unless --trust."""
    from labelstream.core.snapshot import load_model_file
    from labelstream.errors import SnapshotRejected

    settings = state(ctx).settings()
    try:
        model_state, checked = load_model_file(path.read_bytes(), _signing_key(settings, key_file), trust)
    except SnapshotRejected as exc:
        fix = "sign it with this deployment's key (--key-file), or pass --trust if you trust its origin"
        raise LabelstreamError(f"{path}: {exc}; {fix}" if not trust else f"{path}: {exc}") from exc
    if checked != "signed":
        say(f"warning: {path} is {checked}; loaded because of --trust")
    announcement = _publish_adopted(settings, model_state, {"imported": 1.0}, force)
    say(f"{path} published as version {announcement.version} of model {settings.model.model_name} "
        f"(classes {', '.join(announcement.classes) or 'none yet'}); labelers pick it up within seconds")
