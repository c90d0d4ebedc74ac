"""labelstream: streaming auto-labeling on Apache Kafka.

The public API for users' code: :func:`labeling_function` and :data:`ABSTAIN`
declare labeling functions (``weak.functions`` in settings, ``--lf`` on the CLI).
They are loaded on first use, so that ``labelstream --help`` and every process
that never touches labeling functions start without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelstream.core.weak.functions import ABSTAIN, LabelingFunction, labeling_function

__version__ = "0.1.0"

__all__ = ["ABSTAIN", "LabelingFunction", "__version__", "labeling_function"]


def __getattr__(name: str) -> Any:
    if name in ("ABSTAIN", "LabelingFunction", "labeling_function"):
        from labelstream.core.weak import functions

        return getattr(functions, name)
    raise AttributeError(f"module 'labelstream' has no attribute {name!r}")
