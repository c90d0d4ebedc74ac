"""The fault harness refuses to stop the shared stack outside a test marked ``stack_outage``."""

from __future__ import annotations

import pytest
from fault_harness import stack


def test_stopping_the_shared_stack_needs_the_stack_outage_marker():
    # an unknown part: were the guard gone, stack.sh would refuse it with another message and stop nothing
    with pytest.raises(AssertionError, match="stack_outage"):
        stack("stop", "no-such-part")
