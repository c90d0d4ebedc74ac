"""Build the core objects (featurizer, model, policy, engine) from settings.

>>> from labelstream.settings import load_settings
>>> engine = build_engine(load_settings())
>>> engine.model.name, engine.policy.name
('logistic', 'threshold')
"""

from __future__ import annotations

from labelstream.core.engine import LabelingEngine
from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel
from labelstream.core.policy import Policy, ThresholdPolicy
from labelstream.settings import ModelSettings, PolicySettings, Settings


def build_featurizer(model: ModelSettings) -> Featurizer:
    return Featurizer(model.categorical_encoding, model.hash_buckets)


def build_model(model: ModelSettings) -> OnlineModel:
    return OnlineModel(model.name, seed=model.seed, learning_rate=model.learning_rate)


def build_policy(policy: PolicySettings) -> Policy:
    """The routing policy named by ``policy.name``."""
    if policy.name == "threshold":
        return ThresholdPolicy(policy.confidence_threshold, policy.cold_start_records, policy.cold_start_corrections)
    raise NotImplementedError(f"policy {policy.name!r} is not built yet")


def build_engine(settings: Settings) -> LabelingEngine:
    return LabelingEngine(build_model(settings.model), build_policy(settings.policy), build_featurizer(settings.model))
