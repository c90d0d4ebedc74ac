"""State shared by the CLI commands: the config file and the lazily loaded settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # pydantic-settings is loaded with the settings, not by `labelstream --help`
    from labelstream.settings import Settings


@dataclass
class CliState:
    config_file: Path | None = None
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, **overrides: dict) -> Settings:
        """Settings from the config file and environment (validated on first use)."""
        from labelstream.settings import load_settings

        if overrides:
            return load_settings(self.config_file, **overrides)
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """The CLI state of a command's context (a default one outside the root command)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
