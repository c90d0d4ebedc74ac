"""``labelstream schemas``: export and check the JSON Schema of every topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from labelstream.schema_files import check_schemas, export_schemas

app = typer.Typer(help="JSON Schema files of every topic value (generated from the pydantic models).", no_args_is_help=True)
console = Console()

DirOption = Annotated[Path, typer.Option("--dir", help="Folder of the schema files.")]


@app.command("export")
def export(directory: DirOption = Path("schemas")) -> None:
    """Write schemas/<topic>.schema.json for every topic."""
    for path in export_schemas(directory):
        console.print(f"wrote {path}")


@app.command("check")
def check(directory: DirOption = Path("schemas")) -> None:
    """Exit non-zero when the checked-in schema files differ from the models."""
    problems = check_schemas(directory)
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if problems:
        console.print("run [bold]labelstream schemas export[/] and commit the result")
        raise typer.Exit(1)
    console.print(f"schemas in {directory} match the models")
