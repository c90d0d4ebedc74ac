"""``labelstream datasets``: labeled streams that ship inside river, written to CSV or JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from labelstream.simulate.datasets import DATASETS, dataset, export_dataset

app = typer.Typer(help="Labeled streams from river (no download) for simulate and the benchmarks.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_datasets() -> None:
    """The datasets, their size and the model the benchmark uses on them."""
    table = Table("name", "records", "drift at", "model", "description")
    for spec in DATASETS.values():
        table.add_row(spec.name, str(spec.size), str(spec.drift_at() or "-"), spec.model, spec.description)
    console.print(table)


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Dataset name (see `labelstream datasets list`).")],
    path: Annotated[Path, typer.Argument(help="Output .csv or .jsonl file (columns: id, features..., label).")],
    size: Annotated[Optional[int], typer.Option(help="Records (default: the dataset's size).", min=1)] = None,  # noqa: UP007
    seed: Annotated[int, typer.Option(help="Seed of synthetic streams.")] = 0,
) -> None:
    """Write a dataset; then `labelstream simulate --data PATH --label-column label --id-column id`."""
    spec = dataset(name)
    count = export_dataset(name, path, size, seed)
    drift = spec.drift_at(size or spec.size)
    console.print(f"wrote {count} records of {name} to {path}" + (f" (concept drift at record {drift})" if drift else ""))
