"""``labelstream datasets``: labeled streams that ship inside river, written to CSV or JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from labelstream.cli.output import JsonFlag, Table, command_group, print_json

app = command_group("Labeled streams from river (no download) for simulate and the benchmarks.")


@app.command("list")
def list_datasets(as_json: JsonFlag = False) -> None:
    """The datasets, their size and the model the benchmark uses on them."""
    from labelstream.simulate.datasets import DATASETS

    if as_json:
        print_json([
            {"name": s.name, "records": s.size, "drift_at": s.drift_at(), "model": s.model, "description": s.description}
            for s in DATASETS.values()
        ])
        return
    table = Table("name", "records", "drift at", "model", "description")
    for spec in DATASETS.values():
        table.add_row(spec.name, spec.size, spec.drift_at(), spec.model, spec.description)
    table.print()


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name (see `labelstream datasets list`).")],
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Output .csv or .jsonl file (columns: id, features..., label).")],
    size: Annotated[Optional[int], typer.Option(help="Records (default: the dataset's size).", min=1)] = None,  # noqa: UP007
    seed: Annotated[int, typer.Option(help="Seed of synthetic streams.")] = 0,
) -> None:
    """Write a dataset to a CSV or JSONL file, for simulate, produce and the benchmarks.

    Then, for example:

    \b
      labelstream simulate --data PATH --label-column label --id-column id
    """
    from labelstream.simulate.datasets import dataset, export_dataset

    spec = dataset(name)
    count = export_dataset(name, path, size, seed)
    drift = spec.drift_at(size or spec.size)
    print(f"wrote {count} records of {name} to {path}" + (f" (concept drift at record {drift})" if drift else ""))
