"""``labelstream topics``: create (idempotent) and describe the topics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, human_duration, print_json, progress_bar

app = command_group("Create and inspect labelstream's Kafka topics.")


@app.command("create")
def create(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Create every topic that does not exist yet (safe to run again)."""
    from labelstream.kafka.topics import create_topics

    created, present = create_topics(state(ctx).settings())
    if as_json:
        print_json({"created": created, "present": present})
        return
    for name in created:
        print(f"created {name}")
    if present:
        print(f"already present: {', '.join(present)}")


@app.command("describe")
def describe(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Do not read the topics to count messages; show only offset spans.")
    ] = False,
) -> None:
    """Partitions, replication, cleanup policy, retention and message count of each topic.

    Messages are counted by reading each topic as a consumer does
    (read_committed): the offset span also holds one transaction marker per
    labeler batch and partition, and aborted records. On big topics --fast
    shows only the offset spans.
    """
    from labelstream.kafka.topics import describe_topics

    with progress_bar(TextColumn("counting messages"), BarColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("count", total=None)
        infos = describe_topics(state(ctx).settings(), count=not fast, on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        print_json(
            [
                {
                    "topic": i.name, "role": i.role, "partitions": i.partitions, "replication_factor": i.replication_factor,
                    "cleanup_policy": i.cleanup_policy, "retention_ms": i.retention_ms, "messages": i.messages, "offsets": i.offsets,
                }
                for i in infos
            ]
        )
        return
    table = Table("topic", "partitions", "replication", "cleanup", "retention", "offsets" if fast else "messages")
    for i in infos:
        # retention.ms does not apply to a compacted topic: it keeps the latest value of each key
        retention = "-" if i.cleanup_policy == "compact" else human_duration(i.retention_ms)
        table.add_row(i.name, i.partitions, i.replication_factor, i.cleanup_policy, retention, i.offsets if fast else i.messages)
    table.print()
