"""labelstream: streaming auto-labeling on Apache Kafka.

The public API for users' code: :func:`labeling_function` and :data:`ABSTAIN`
declare labeling functions (``weak.functions`` in settings, ``--lf`` on the CLI).
"""

from labelstream.core.weak.functions import ABSTAIN, LabelingFunction, labeling_function

__version__ = "0.1.0"

__all__ = ["ABSTAIN", "LabelingFunction", "__version__", "labeling_function"]
