"""Find and drive the local stack script (deploy/stack.sh) from the installed package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from labelstream.errors import ServiceUnavailable
from labelstream.kafka.reachability import unreachable_reason
from labelstream.settings import Settings


def stack_script() -> Path | None:
    """``deploy/stack.sh`` of the source checkout this package is installed from (editable install)."""
    script = Path(__file__).resolve().parents[2] / "deploy" / "stack.sh"
    return script if script.is_file() else None


def kafka_reachable(settings: Settings, timeout: float = 3.0) -> bool:
    try:  # refused at once when nothing listens, else one metadata request
        return unreachable_reason(settings.kafka, metadata_timeout=timeout) is None
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def ensure_stack(settings: Settings) -> bool:
    """Start the local stack when Kafka does not answer; return whether this call started it."""
    if kafka_reachable(settings):
        return False
    script = stack_script()
    if script is None:
        raise ServiceUnavailable(
            f"Kafka at {settings.kafka.bootstrap_servers} does not answer and no deploy/stack.sh was found; start Kafka and Redis"
        )
    result = subprocess.run([str(script), "start"], check=False)
    if result.returncode != 0:
        raise ServiceUnavailable(f"{script} start failed (exit {result.returncode}); see .stack/logs/")
    return True


def stop_stack() -> None:
    script = stack_script()
    if script is not None:
        subprocess.run([str(script), "stop"], check=False)
