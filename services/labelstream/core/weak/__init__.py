"""Weak supervision: labeling functions, an online label model and LF analysis (see ``docs/weak-supervision.md``)."""

from labelstream.core.weak.analysis import LFAnalysis
from labelstream.core.weak.applier import LFApplier, LFCounts
from labelstream.core.weak.functions import ABSTAIN, LabelingFunction, labeling_function, load_functions
from labelstream.core.weak.label_model import MajorityVote, OnlineLabelModel, VoteCombiner
from labelstream.core.weak.supervision import WeakSupervision

__all__ = [
    "ABSTAIN",
    "LFAnalysis",
    "LFApplier",
    "LFCounts",
    "LabelingFunction",
    "MajorityVote",
    "OnlineLabelModel",
    "VoteCombiner",
    "WeakSupervision",
    "labeling_function",
    "load_functions",
]
