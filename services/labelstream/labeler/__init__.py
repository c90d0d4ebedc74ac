"""The labeler service (``labelstream run labeler``): the hot path, see :mod:`labelstream.labeler.service`."""

from labelstream.labeler.service import Labeler, run_labeler

__all__ = ["Labeler", "run_labeler"]
