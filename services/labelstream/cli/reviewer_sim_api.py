"""``labelstream run reviewer-sim --via-api``: the glue between the command line and the simulated reviewers.

Creates a token per reviewer in the review service's token store (as ``labelstream
review token add`` does) unless ``--token`` gives them, runs the reviewers until
SIGTERM/Ctrl-C (or ``--stop-when-idle``), then revokes the tokens it created and
prints a summary.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from labelstream.errors import LabelstreamError

if TYPE_CHECKING:
    from labelstream.settings import Settings

log = logging.getLogger("labelstream.reviewer_sim.api")


def parse_rates(text: str | None) -> list[float]:
    """``"0.05,0.2"`` -> ``[0.05, 0.2]``, each in [0, 1] (``None``: ``[0.0]``)."""
    if text is None:
        return [0.0]
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise LabelstreamError(f"--error-rate: expected numbers separated by commas, e.g. 0.05,0.2,0.35 (got {text!r})") from None
    if not rates or any(not 0.0 <= rate <= 1.0 for rate in rates):
        raise LabelstreamError(f"--error-rate: each error rate must be between 0 and 1 (got {text!r})")
    return rates


def run_via_api(
    load_settings: Callable[[], Settings],
    load_truth: Callable[[], Mapping[str, str]],
    *,
    url: str | None,
    reviewers: int | None,
    delay: float,
    error_rate: str | None,
    skip_rate: float,
    tokens: Sequence[str],
    name_prefix: str,
    seed: int,
    stop_when_idle: float,
    as_json: bool,
    accuracy: float = 1.0,
) -> None:
    """Run K simulated reviewers until stopped.

    The arguments are checked before anything slow (the settings, the truth
    file, the HTTP client, Redis): ``load_settings`` and ``load_truth`` are
    called only then, so a mistyped option fails at once.
    """
    from labelstream.review.auth import check_reviewer_name
    from labelstream.review_client.client import service_url
    from labelstream.review_client.simulated import error_rates_for, reviewer_names

    if accuracy != 1.0:
        raise LabelstreamError("--accuracy is the oracle's; with --via-api give --error-rate")
    count = reviewers if reviewers is not None else max(1, len(tokens))
    if tokens and len(tokens) != count:
        raise LabelstreamError(f"--reviewers {count} with {len(tokens)} --token: give one token per reviewer")
    try:
        rates = error_rates_for(count, parse_rates(error_rate))
    except ValueError as exc:
        raise LabelstreamError(f"--error-rate: {exc}") from None
    names = reviewer_names(name_prefix, count)
    if not tokens:
        try:
            for name in names:
                check_reviewer_name(name)
        except ValueError as exc:
            raise LabelstreamError(f"--name-prefix: {exc}") from None
    truth = load_truth()
    if not truth:
        raise LabelstreamError("the truth file has no labeled rows: the simulated reviewers would have nothing to answer")
    settings = load_settings()
    _run(settings, truth, service_url(url or f"localhost:{settings.review.port}"), names, rates,
         tokens=tokens, delay=delay, skip_rate=skip_rate, seed=seed, stop_when_idle=stop_when_idle, as_json=as_json)


def _run(
    settings: Settings,
    truth: Mapping[str, str],
    url: str,
    names: list[str],
    rates: list[float],
    *,
    tokens: Sequence[str],
    delay: float,
    skip_rate: float,
    seed: int,
    stop_when_idle: float,
    as_json: bool,
) -> None:
    from labelstream.review_client.simulated import ReviewerSpec, SimulatedReviewers, issue_tokens, revoke_tokens

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    count = len(names)
    created: list[str] = []
    if tokens:
        names = [_name_of(url, token) for token in tokens]
        given = list(tokens)
    else:
        try:
            created = given = issue_tokens(settings.redis.url, settings.redis.key_prefix, names)
        except ValueError as exc:  # a bad --name-prefix
            raise LabelstreamError(f"--name-prefix: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - redis errors: say where and what to do instead
            raise LabelstreamError(f"cannot create review tokens in Redis at {settings.redis.url} ({exc}); "
                                   "start the stack (make up) or pass existing tokens with --token") from exc
    specs = [ReviewerSpec(name, token, rate) for name, token, rate in zip(names, given, rates, strict=True)]
    try:
        crew = SimulatedReviewers(url, specs, truth, delay_seconds=delay, skip_rate=skip_rate, seed=seed,
                                  stop_when_idle=stop_when_idle)
    except ValueError as exc:  # e.g. two --token of the same reviewer
        raise LabelstreamError(f"--token: {exc}") from None
    signal.signal(signal.SIGTERM, crew.stop)
    signal.signal(signal.SIGINT, crew.stop)
    log.info("%d simulated reviewers (%s) on %s: think ~%.1f s, error rates %s", count, ", ".join(names), url, delay,
             ", ".join(f"{rate:g}" for rate in rates))
    try:
        summary = crew.run()
    finally:
        if created:
            try:
                revoke_tokens(settings.redis.url, settings.redis.key_prefix, created)
            except Exception as exc:  # noqa: BLE001 - the run is over; say so and leave them
                log.warning("could not revoke the simulated reviewers' tokens: %s", exc)
    for name, tally in summary.items():
        log.info("%s: %s", name, ", ".join(f"{key} {value}" for key, value in tally.items()))
    if as_json:
        print(json.dumps({"url": url, "reviewers": summary}, sort_keys=True))
        sys.stdout.flush()
    failures = crew.failures
    if failures and len(failures) == len(specs):
        first = next(iter(failures.values()))
        raise LabelstreamError(f"the review service at {url} refused every reviewer's token ({first.detail})")


def _name_of(url: str, token: str) -> str:
    """The reviewer a given token belongs to (``GET /api/v1/me``)."""
    from labelstream.review_client.client import ReviewApiError, ReviewClient

    try:
        with ReviewClient(url, token) as client:
            return str(client.me()["reviewer"])
    except ReviewApiError as exc:
        raise LabelstreamError(f"a --token is not accepted by {url}: {exc}") from exc
