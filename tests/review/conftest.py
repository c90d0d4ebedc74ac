"""Fixtures of the review service tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from review_support import GOLD, GoldService, review_sections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


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


@pytest.fixture
def chromium():  # noqa: ANN201
    """Debian's Chromium through Playwright, headless (the review page tests)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (deploy/debian-packages.txt lists it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
