"""Query strategies: which uncertain records are worth a human answer, within one shared budget."""

from labelstream.core.strategies.base import Query, QueryStrategy, entropy, least_confidence, margin
from labelstream.core.strategies.committee import QueryByCommittee
from labelstream.core.strategies.entropy import Entropy
from labelstream.core.strategies.fixed_uncertainty import FixedUncertainty
from labelstream.core.strategies.least_confidence import LeastConfidence
from labelstream.core.strategies.margin import Margin
from labelstream.core.strategies.randomized_variable_uncertainty import RandomizedVariableUncertainty
from labelstream.core.strategies.river_entropy import RiverEntropySampler
from labelstream.core.strategies.split import Split
from labelstream.core.strategies.variable_uncertainty import VariableUncertainty

__all__ = [
    "Entropy",
    "FixedUncertainty",
    "LeastConfidence",
    "Margin",
    "Query",
    "QueryByCommittee",
    "QueryStrategy",
    "RandomizedVariableUncertainty",
    "RiverEntropySampler",
    "Split",
    "VariableUncertainty",
    "entropy",
    "least_confidence",
    "margin",
]
