"""``labelstream models``: the model versions kept in Redis, and rollback."""

from __future__ import annotations

import datetime
from typing import Annotated

import typer
from confluent_kafka import Producer
from rich.console import Console
from rich.table import Table

from labelstream.cli.context import state
from labelstream.errors import LabelstreamError
from labelstream.kafka.config import producer_config
from labelstream.kafka.events import EventPublisher
from labelstream.settings import Settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

app = typer.Typer(help="Model versions: list them, roll back to one.", no_args_is_help=True)
console = Console()


def _registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry.from_settings(connect(settings.redis), settings)


@app.command("list")
def list_versions(ctx: typer.Context) -> None:
    """The versions kept (learner.keep_versions), newest last, and which one is live."""
    settings = state(ctx).settings()
    registry = _registry(settings)
    latest = registry.latest_version()
    table = Table("version", "created", "corrections learned", "classes", "note", title=f"model {settings.model.model_name}")
    for version in registry.versions():
        snapshot = registry.load(version)
        if snapshot is None:
            continue
        note = "live" if version == latest else ""
        if "rollback_of" in snapshot.metrics:
            note = f"{note} rollback of v{int(snapshot.metrics['rollback_of'])}".strip()
        if snapshot.metrics.get("challenger"):
            note = f"{note} challenger".strip()
        created = datetime.datetime.fromtimestamp(snapshot.created_at).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(version), created, str(snapshot.model.n_learned), ", ".join(sorted(snapshot.model.classes)), note)
    console.print(table)


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(help="The version whose model comes back.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the rollback event).")] = "",
) -> None:
    """Make the model of VERSION live again, as a new version the labelers and the learner adopt."""
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
    console.print(f"version {announcement.version} now holds the model of version {version}; labelers pick it up within seconds")
