"""``labelstream schemas``: export and check the JSON Schema of every topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelstream.cli.output import command_group, print_error

app = command_group("JSON Schema files of every topic value (generated from the pydantic models).")

DirOption = Annotated[Path, typer.Option("--dir", help="Folder of the schema files.")]


@app.command("export")
def export(directory: DirOption = Path("schemas")) -> None:
    """Write schemas/<topic>.schema.json for every topic."""
    from labelstream.schema_files import export_schemas

    for path in export_schemas(directory):
        print(f"wrote {path}")


@app.command("check")
def check(directory: DirOption = Path("schemas")) -> None:
    """Exit non-zero when the checked-in schema files differ from the models."""
    from labelstream.schema_files import check_schemas

    problems = check_schemas(directory)
    for problem in problems:
        print_error(f"{problem}; run `labelstream schemas export` and commit the result")
    if problems:
        raise typer.Exit(1)
    print(f"schemas in {directory} match the models")
