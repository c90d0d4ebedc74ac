"""``labelstream topics``: create (idempotent) and describe the topics."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from labelstream.cli.context import state
from labelstream.kafka.topics import create_topics, describe_topics

app = typer.Typer(help="Create and inspect labelstream's Kafka topics.", no_args_is_help=True)
console = Console()


@app.command("create")
def create(ctx: typer.Context) -> None:
    """Create every topic that does not exist yet (safe to run again)."""
    created, present = create_topics(state(ctx).settings())
    for name in created:
        console.print(f"created [bold]{name}[/]")
    if present:
        console.print(f"already present: {', '.join(present)}")


@app.command("describe")
def describe(ctx: typer.Context) -> None:
    """Partitions, replication, cleanup policy, retention and message count of each topic."""
    table = Table("topic", "partitions", "replication", "cleanup.policy", "retention.ms", "messages")
    for info in describe_topics(state(ctx).settings()):
        table.add_row(
            info.name, str(info.partitions), str(info.replication_factor), info.cleanup_policy, info.retention_ms, str(info.messages)
        )
    console.print(table)
