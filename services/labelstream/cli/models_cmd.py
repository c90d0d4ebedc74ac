"""``labelstream models``: the model versions kept in Redis, and rollback."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, print_json, say
from labelstream.errors import LabelstreamError

if TYPE_CHECKING:
    from labelstream.settings import Settings
    from labelstream.store.models import ModelRegistry

app = command_group("Model versions: list them, roll back to one.")


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
    version: Annotated[int, typer.Argument(help="The version whose model comes back.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the rollback event).")] = "",
) -> None:
    """Make the model of VERSION live again, as a new version the labelers and the learner adopt."""
    from confluent_kafka import Producer

    from labelstream.kafka.config import producer_config
    from labelstream.kafka.events import EventPublisher

    settings = state(ctx).settings()
    registry = _registry(settings)
    try:
        announcement = registry.rollback(version, reason)
    except KeyError as exc:
        raise LabelstreamError(str(exc.args[0])) from exc
    producer = Producer(producer_config(settings.kafka))
    producer.produce(settings.topics.model_versions, key=settings.model.model_name.encode(), value=announcement.model_dump_json().encode())
    producer.flush(10)
    events = EventPublisher(settings, "cli")
    events.publish("rollback", model_name=settings.model.model_name, to_version=version, new_version=announcement.version, reason=reason)
    events.flush(10)
    print(f"version {announcement.version} now holds the model of version {version}; labelers pick it up within seconds")
