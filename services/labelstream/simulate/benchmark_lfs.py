"""Noisy labeling functions written for the benchmark streams (``labelstream bench quality``).

Rules of thumb of the kind a domain expert writes in a few minutes: some
precise but narrow, some broad and noisy, one close to useless. Their true
accuracies on each stream are in the simulate report's
``labeling_functions`` section and in ``labelstream lf stats --data``.

Use them as an example, or as they are::

    labelstream datasets export phishing phishing.csv
    labelstream simulate --data phishing.csv --label-column label \\
        --lf labelstream.simulate.benchmark_lfs:phishing

**phishing** (river's Phishing, label ``True`` = phishing page): a form that
posts nowhere or to a blank handler, pop-ups, no HTTPS, links and anchors to
other domains, a young domain.

**sea** (SEA variant 0: ``True`` when ``x0 + x1 > 8``; features ``0``, ``1``,
``2``): one large coordinate, both small, and a rule on the irrelevant
``x2``.

>>> from labelstream.core.schemas import Record
>>> [lf.name for lf in phishing]
['form_handler_blank', 'form_handler_set', 'no_popup', 'popup', 'no_https', 'https', 'anchor_same_domain']
>>> form_handler_blank(Record(id="1", features={"empty_server_form_handler": 0.5}))
'True'
"""

from __future__ import annotations

from labelstream.core.weak import ABSTAIN, labeling_function

PHISHING, LEGITIMATE = "True", "False"


@labeling_function(labels=(PHISHING,))
def form_handler_blank(record):
    return PHISHING if record.features.get("empty_server_form_handler") == 0.5 else ABSTAIN


@labeling_function(labels=(LEGITIMATE,))
def form_handler_set(record):
    return LEGITIMATE if record.features.get("empty_server_form_handler") == 1.0 else ABSTAIN


@labeling_function(labels=(LEGITIMATE,))
def no_popup(record):
    return LEGITIMATE if record.features.get("popup_window") == 1.0 else ABSTAIN


@labeling_function(labels=(PHISHING,))
def popup(record):
    return PHISHING if record.features.get("popup_window") == 0.0 else ABSTAIN


@labeling_function(labels=(PHISHING,))
def no_https(record):
    return PHISHING if record.features.get("https") == 0.0 else ABSTAIN


@labeling_function(labels=(LEGITIMATE,))
def https(record):
    return LEGITIMATE if record.features.get("https") == 1.0 else ABSTAIN


@labeling_function(labels=(PHISHING,))
def anchor_same_domain(record):
    return PHISHING if record.features.get("anchor_from_other_domain") == 0.0 else ABSTAIN


phishing = [form_handler_blank, form_handler_set, no_popup, popup, no_https, https, anchor_same_domain]


def _number(record, name: str) -> float:
    return float(record.features.get(name, 0.0))


@labeling_function(labels=("True",))
def x0_large(record):
    return "True" if _number(record, "0") > 8.5 else ABSTAIN


@labeling_function(labels=("True",))
def x1_large(record):
    return "True" if _number(record, "1") > 6.5 else ABSTAIN


@labeling_function(labels=("False",))
def both_small(record):
    return "False" if _number(record, "0") < 4 and _number(record, "1") < 3 else ABSTAIN


@labeling_function(labels=("True",))
def x2_large(record):
    return "True" if _number(record, "2") > 7 else ABSTAIN


sea = [x0_large, x1_large, both_small, x2_large]
