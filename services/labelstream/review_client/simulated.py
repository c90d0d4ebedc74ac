"""Simulated reviewers that behave like people, working the review queue through the API.

``labelstream run reviewer-sim --via-api``: ``K`` reviewers, each with a token
of their own, claim items over HTTP, think, and answer — sometimes wrongly —
exactly as a person at the web page would, so that leases, overlap,
adjudication, agreement and consolidation are exercised end to end.

Each reviewer, in its own thread:

1. claims the next item (``None``: waits ``poll_seconds``, with jitter, and
   claims again);
2. thinks for a random time around ``delay_seconds``: log-normal with that
   mean and ``sigma = 0.5`` (people's response times are right-skewed:
   median 0.88 D, one in twenty over 1.9 D), sending a heartbeat every third
   of the lease so a long think keeps the item;
3. answers the true label (from a labeled file), or with probability
   ``error_rate`` a label drawn uniformly from the *other* labels of the
   item's label set; with probability ``skip_rate`` it skips instead.

Every random choice about an item (wrong or right, which wrong label, skip,
think time) is drawn from a generator seeded by ``(seed, reviewer, item id)``,
so a run's answers do not depend on which thread claimed first: rerunning it
gives each reviewer the same answer to the same item.

Stops cleanly on :meth:`SimulatedReviewers.stop` (SIGTERM, Ctrl-C): an answer
already sent is completed, a reviewer thinking stops thinking and hands its
item back (``POST /api/v1/release``, one attempt): it is waiting again at once,
for anyone, this reviewer included (a skip would hide it from that reviewer for
good, and an overlap item needs ``overlap_k`` different reviewers). If the
release fails (the service is down, the lease already ended) the item returns
when its lease ends, after at most ``review.lease_seconds``. Items whose record
is not in the truth file are skipped (the simulator cannot know their label).
It knows gold items no better: one is shown under an id shaped like the stream's
(docs/review.md, "Shown id"), which may be a real record's id in the truth file,
and is then answered with that record's label; its gold figures mean nothing, so
run it with ``review.gold_share`` 0.

>>> behaviour = Behaviour(error_rate=0.2, delay_seconds=4.0, skip_rate=0.0, seed=7)
>>> behaviour.decide("sim-1", "r42", "cat", ("cat", "dog", "bird")) == behaviour.decide("sim-1", "r42", "cat", ("cat", "dog", "bird"))
True
>>> import statistics
>>> picks = [behaviour.decide("sim-1", f"r{i}", "cat", ("cat", "dog", "bird")) for i in range(4000)]
>>> sum(p.wrong for p in picks) / len(picks)  # 0.2 expected, standard error 0.006
0.1915
>>> round(statistics.fmean(p.think_seconds for p in picks), 2), round(statistics.median(p.think_seconds for p in picks), 2)
(3.98, 3.51)
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from labelstream.review_client.client import (
    Forbidden,
    LeaseLost,
    Rejected,
    ReviewApiError,
    ReviewClient,
    ReviewItem,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("labelstream.reviewer_sim.api")

THINK_SIGMA = 0.5
"""Spread (sigma of the log) of the log-normal think time."""


@dataclass(frozen=True)
class Decision:
    """What a simulated reviewer does with one item."""

    label: str | None  # None: skip
    wrong: bool
    think_seconds: float


@dataclass(frozen=True)
class Behaviour:
    """How one simulated reviewer decides; every draw seeded by (seed, reviewer, item)."""

    error_rate: float = 0.0
    delay_seconds: float = 0.0
    skip_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "skip_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, got {self.delay_seconds}")

    def rng(self, reviewer: str, item_id: str) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}\x00{reviewer}\x00{item_id}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def decide(self, reviewer: str, item_id: str, truth: str, labels: Sequence[str]) -> Decision:
        rng = self.rng(reviewer, item_id)
        # draw all in a fixed order, whatever is used, so one setting does not shift another's draws
        u_skip, u_wrong, u_pick, z = rng.random(), rng.random(), rng.random(), rng.gauss(0.0, 1.0)
        think = 0.0
        if self.delay_seconds > 0:  # log-normal with mean delay_seconds: mu = ln(D) - sigma^2 / 2
            think = math.exp(math.log(self.delay_seconds) - THINK_SIGMA**2 / 2 + THINK_SIGMA * z)
        if u_skip < self.skip_rate:
            return Decision(None, False, think)
        others = [label for label in labels if label != truth]
        if others and u_wrong < self.error_rate:
            return Decision(others[int(u_pick * len(others))], True, think)
        return Decision(truth, False, think)


@dataclass
class Tally:
    """What one simulated reviewer did."""

    answered: int = 0
    wrong: int = 0
    skipped: int = 0
    no_truth: int = 0
    lease_lost: int = 0
    released: int = 0  # items handed back unanswered at stop
    rejected: int = 0
    unavailable: int = 0
    errors: int = 0  # refusals no step expects (the item is left to its lease)
    think_seconds: float = 0.0
    last_item_at: float = field(default=0.0, repr=False)  # when it last claimed an item (monotonic)
    last_done_at: float = field(default=0.0, repr=False)  # when it last finished one: answered, skipped, handed back
    last_claim_empty: bool = field(default=False, repr=False)
    empty_claim_sent_at: float = field(default=0.0, repr=False)  # when its last claim that found nothing was sent

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("last_item_at", "last_done_at", "last_claim_empty", "empty_claim_sent_at"):
            del data[name]
        data["think_seconds"] = round(self.think_seconds, 3)
        return data


class ApiReviewer:
    """One simulated person working the queue through :class:`ReviewClient` (see the module docstring)."""

    def __init__(
        self,
        name: str,
        client: ReviewClient,
        truth: Mapping[str, str],
        behaviour: Behaviour,
        stop: threading.Event,
        poll_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.client = client
        self.truth = truth
        self.behaviour = behaviour
        self.stop = stop
        self.poll_seconds = poll_seconds
        self.tally = Tally()
        self.failure: ReviewApiError | None = None
        self._jitter = random.Random(f"{behaviour.seed}-{name}-poll")

    def run(self) -> None:
        """Work until stopped (or the token is refused)."""
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except (Unauthorized, Forbidden):
                    raise
                except ReviewApiError as exc:  # a refusal no step expects (e.g. 404): said, then on to the next item
                    self.tally.errors += 1
                    log.warning("%s: %s; going on with the next item", self.name, exc)
                    self.stop.wait(1.0 + self._jitter.random())
        except (Unauthorized, Forbidden) as exc:
            self.failure = exc
            log.error("%s: the review service refused the token (%s); this reviewer stops", self.name, exc.detail)
        finally:
            self.client.close()

    def step(self) -> bool:
        """Claim and work one item; ``False`` when there was none (after waiting to poll again)."""
        sent_at = time.monotonic()
        try:
            item = self.client.claim()
        except Unavailable as exc:
            self._unavailable(exc)
            return False
        if item is None:
            self.tally.empty_claim_sent_at = sent_at
            self.tally.last_claim_empty = True
            self.stop.wait(self.poll_seconds * (0.5 + self._jitter.random()))
            return False
        self.tally.last_claim_empty = False
        self.tally.last_item_at = time.monotonic()
        try:
            self.work(item)
        finally:
            self.tally.last_done_at = time.monotonic()
        return True

    def work(self, item: ReviewItem) -> None:
        truth = self.truth.get(item.id)
        if truth is None:
            self.tally.no_truth += 1
            if self.tally.no_truth == 1:
                log.warning("%s: record %s is not in the truth file; skipping such records", self.name, item.id)
            self._skip(item)
            return
        decision = self.behaviour.decide(self.name, item.id, truth, item.labels)
        if not self._think(item, decision.think_seconds):
            return
        self.tally.think_seconds += decision.think_seconds
        if decision.label is None:
            self._skip(item)
            return
        self._answer(item, decision)

    # -- the steps ---------------------------------------------------------------------------------

    def _think(self, item: ReviewItem, seconds: float) -> bool:
        """Wait ``seconds``, keeping the lease; ``False`` if stopped or the lease was lost meanwhile."""
        beat_every = max(1.0, item.lease_seconds / 3)
        start = time.monotonic()
        end, next_beat = start + seconds, start + beat_every
        while True:
            now = time.monotonic()
            if now >= end:
                return True
            if self.stop.wait(min(end, next_beat) - now):
                self._release(item)
                return False
            if time.monotonic() >= next_beat and time.monotonic() < end:
                next_beat += beat_every
                try:
                    self.client.heartbeat(item.id, item.lease)
                except LeaseLost:
                    self.tally.lease_lost += 1
                    return False
                except Unavailable as exc:  # the lease may survive the outage; the answer will tell
                    log.warning("%s: heartbeat failed: %s", self.name, exc)

    def _answer(self, item: ReviewItem, decision: Decision) -> None:
        assert decision.label is not None
        while True:
            try:
                self.client.answer(item.id, item.lease, decision.label)
            except Unavailable as exc:  # an answer is safe to send again: the service keeps the first
                self._unavailable(exc)
                if self.stop.is_set():
                    self._release(item)
                    return
                continue
            except LeaseLost:
                self.tally.lease_lost += 1
                return
            except Rejected as exc:
                self.tally.rejected += 1
                log.warning("%s: answer %r to %s refused (%s); skipping it", self.name, decision.label, item.id, exc.detail)
                self._skip(item)
                return
            self.tally.answered += 1
            self.tally.wrong += decision.wrong
            return

    def _skip(self, item: ReviewItem) -> None:
        try:
            self.client.skip(item.id, item.lease)
            self.tally.skipped += 1
        except LeaseLost:
            self.tally.lease_lost += 1
        except Unavailable as exc:
            self._unavailable(exc)

    def _release(self, item: ReviewItem) -> None:
        """Stopping with ``item`` unanswered: hand it back now rather than hold it until the lease ends."""
        try:
            self.client.release(item.id, item.lease)
            self.tally.released += 1
        except ReviewApiError as exc:  # lease gone, service down: the lease brings it back
            log.info("%s: could not hand %s back (%s); it returns when its lease ends", self.name, item.id, exc.detail)

    def _unavailable(self, exc: Unavailable) -> None:
        self.tally.unavailable += 1
        if self.tally.unavailable in (1, 10) or self.tally.unavailable % 100 == 0:
            log.warning("%s: %s; retrying (%d times so far)", self.name, exc, self.tally.unavailable)
        self.stop.wait(1.0 + self._jitter.random())


@dataclass(frozen=True)
class ReviewerSpec:
    """A simulated reviewer: its name (the token's), token and error rate."""

    name: str
    token: str
    error_rate: float


class SimulatedReviewers:
    """``K`` simulated reviewers, a thread each, until :meth:`stop` (or idle for ``stop_when_idle`` seconds).

    Parameters
    ----------
    url
        The review service.
    reviewers
        Name, token and error rate of each.
    truth
        Record id -> true label.
    delay_seconds, skip_rate, seed
        See :class:`Behaviour`.
    stop_when_idle
        Stop once every reviewer has claimed in vain since the last item any of them finished, and that was
        this many seconds ago (0: never); see :meth:`idle`.
    client_factory
        Makes a reviewer's client from ``(url, token, stop)`` (tests).
    """

    def __init__(
        self,
        url: str,
        reviewers: Sequence[ReviewerSpec],
        truth: Mapping[str, str],
        delay_seconds: float = 0.0,
        skip_rate: float = 0.0,
        seed: int = 0,
        stop_when_idle: float = 0.0,
        poll_seconds: float = 1.0,
        client_factory: Callable[[str, str, threading.Event], ReviewClient] | None = None,
    ) -> None:
        if not reviewers:
            raise ValueError("at least one reviewer is needed")
        names = [spec.name for spec in reviewers]
        if len(set(names)) != len(names):
            raise ValueError(f"reviewer names must differ: {names}")
        self.url = url
        self.stop_when_idle = stop_when_idle
        self._stop = threading.Event()
        make_client = client_factory or (lambda u, token, stop: ReviewClient(u, token, stop=stop))
        self.reviewers = [
            ApiReviewer(
                spec.name,
                make_client(url, spec.token, self._stop),
                truth,
                Behaviour(spec.error_rate, delay_seconds, skip_rate, seed),
                self._stop,
                poll_seconds,
            )
            for spec in reviewers
        ]
        self._threads: list[threading.Thread] = []
        self.started_at = 0.0

    def stop(self, *_args: object) -> None:
        """Stop every reviewer (signal handler signature)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self.started_at = time.monotonic()
        for reviewer in self.reviewers:
            reviewer.tally.last_item_at = self.started_at
            thread = threading.Thread(target=reviewer.run, name=f"reviewer-{reviewer.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self, report_every: float = 10.0) -> dict[str, dict[str, Any]]:
        """Start, work until stopped, idle or every reviewer failed; the summary."""
        self.start()
        next_report = time.monotonic() + report_every
        while not self._stop.wait(0.2):
            if all(not thread.is_alive() for thread in self._threads):
                break
            if self.idle():
                log.info("no item for %.0f s: stopping", self.stop_when_idle)
                break
            if report_every and time.monotonic() >= next_report:
                next_report += report_every
                self._report()
        self.join()
        self._report()
        return self.summary()

    def idle(self) -> bool:
        """Nothing is left for these reviewers, as far as they can tell, for ``stop_when_idle`` seconds.

        That is: no reviewer holds an item, every reviewer's last claim found nothing *and was sent after the
        last item any of them claimed or finished*, and that last item is ``stop_when_idle`` seconds old. An
        answer to an overlap item puts it back in line for the others, so a claim that found nothing before it
        says nothing about after it: a reviewer still waiting to poll again must claim once more. (Idle seconds
        alone, shorter than the poll interval, stopped runs with overlap items short of their answers.)
        """
        if self.stop_when_idle <= 0:
            return False
        tallies = [r.tally for r in self.reviewers]
        activity = max(max(t.last_item_at, t.last_done_at) for t in tallies)
        return time.monotonic() - activity >= self.stop_when_idle and all(
            t.last_claim_empty and t.empty_claim_sent_at > activity for t in tallies
        )

    def join(self, timeout: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per reviewer: answered, wrong, skipped, lease_lost, ... (see :class:`Tally`)."""
        return {r.name: r.tally.as_dict() for r in self.reviewers}

    @property
    def failures(self) -> dict[str, ReviewApiError]:
        return {r.name: r.failure for r in self.reviewers if r.failure is not None}

    def _report(self) -> None:
        answered = sum(r.tally.answered for r in self.reviewers)
        wrong = sum(r.tally.wrong for r in self.reviewers)
        skipped = sum(r.tally.skipped for r in self.reviewers)
        elapsed = max(time.monotonic() - self.started_at, 1e-9)
        log.info(
            "%d answers (%d wrong, %d skipped) in %.0f s by %d reviewers: %.1f answers/min",
            answered, wrong, skipped, elapsed, len(self.reviewers), 60 * answered / elapsed,
        )


def reviewer_names(prefix: str, count: int) -> list[str]:
    """``prefix-1`` ... ``prefix-count``.

    >>> reviewer_names("sim", 3)
    ['sim-1', 'sim-2', 'sim-3']
    """
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


def error_rates_for(count: int, rates: Sequence[float]) -> list[float]:
    """One error rate per reviewer: one rate for all, or exactly one each.

    >>> error_rates_for(3, [0.1])
    [0.1, 0.1, 0.1]
    >>> error_rates_for(2, [0.05, 0.3])
    [0.05, 0.3]
    """
    if len(rates) == 1:
        return [rates[0]] * count
    if len(rates) != count:
        raise ValueError(f"give one error rate, or one per reviewer ({count}); got {len(rates)}")
    return list(rates)


def issue_tokens(redis_url: str, key_prefix: str, names: Sequence[str]) -> list[str]:
    """A new reviewer token for each name, created as an admin does (the review service's token store)."""
    import redis

    from labelstream.review.auth import TokenStore

    store = TokenStore(redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5), key_prefix)
    return [store.add(name, "reviewer") for name in names]


def revoke_tokens(redis_url: str, key_prefix: str, tokens: Sequence[str]) -> int:
    """Revoke exactly these tokens (not the other tokens of the same reviewers); how many were revoked."""
    import redis

    from labelstream.review.auth import TokenStore, token_hash

    store = TokenStore(redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5), key_prefix)
    return sum(store.revoke(token_hash(token)[:10]) for token in tokens)
