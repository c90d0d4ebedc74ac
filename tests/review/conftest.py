"""Fixtures of the review service tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from review_support import GOLD, GoldService, review_sections


@pytest.fixture
def make_gold(settings_factory) -> Iterator[Callable[..., GoldService]]:  # noqa: ANN001
    """Review services in this process with gold items uploaded (``GOLD`` unless ``gold`` is given)."""
    made: list[GoldService] = []

    def build(share: float = 1.0, undo_seconds: float = 30.0, upload: bool = True, gold: list[dict] = GOLD,
              **review: object) -> GoldService:
        env = GoldService(settings_factory(**review_sections(gold_share=share, undo_seconds=undo_seconds, **review)))
        if upload:
            assert env.call("boss", "POST", "admin/gold", {"items": gold}).json()["added"] == len(gold)
        made.append(env)
        return env

    yield build
    for env in made:
        env.service.shutdown()
