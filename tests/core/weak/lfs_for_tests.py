"""Labeling functions the weak-supervision tests load by module path."""

from labelstream import ABSTAIN, labeling_function


@labeling_function()
def positive(record):
    return "pos" if record.features.get("x", 0) > 0 else ABSTAIN


@labeling_function(name="negative_rule")
def negative(record):
    return "neg" if record.features.get("x", 0) < 0 else ABSTAIN


def plain_callable(record):
    return 1


not_callable = 42
pair = [positive, negative]
