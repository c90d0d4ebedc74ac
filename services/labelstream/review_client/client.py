"""The review API v1 as Python calls: claim, answer, skip, heartbeat, undo, labels, stats.

:class:`ReviewClient` speaks HTTP (httpx) to a running review service with one
reviewer's token. The API's errors become exceptions a caller can act on:

========================  =====  ===============================================
exception                 HTTP   what to do
========================  =====  ===============================================
:class:`Unauthorized`     401    the token is wrong or revoked: stop
:class:`Forbidden`        403    an admin call with a reviewer's token
:class:`LeaseLost`        409    the lease ended (or nothing to undo): claim again
:class:`Rejected`         422    a label outside the label set, a bad body
:class:`Unavailable`      5xx    the service or its Redis is down, or it failed: retry later
========================  =====  ===============================================

Retries: a request that never reached the service (connection refused, connect
timeout) is retried for every call; a request that may have reached it (read
timeout, dropped connection) and a 5xx are retried only where repeating it is
harmless: claim (the service returns the item the caller holds), answer (the
service returns the first answer's result), heartbeat and the reads. Undo is
never repeated: a second undo would withdraw one more answer. Retries wait
``Retry-After`` or a doubling backoff, for at most ``retry_seconds`` in all;
then :class:`Unavailable` is raised and the caller decides (the simulated
reviewers wait and try again; the terminal reviewer says so on screen).

>>> ReviewItem.from_json({"id": "r1", "lease": "L", "lease_expires_at": 1.0, "lease_seconds": 120,
...                       "record": {"id": "r1", "features": {"x": 1}}, "proposed_label": "cat",
...                       "probabilities": {"cat": 0.6, "dog": 0.4}, "reason": "uncertain", "priority": 0.4,
...                       "labels": ["cat", "dog"], "overlap": False, "future_field": 1}).labels
('cat', 'dog')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/v1"


def service_url(url: str) -> str:
    """The review service's base URL as given, ``http://`` added when it has no scheme (``localhost:9402``).

    >>> service_url("localhost:9402/"), service_url("https://review.example/x")
    ('http://localhost:9402', 'https://review.example/x')
    """
    url = url.strip().rstrip("/")
    return url if "://" in url else f"http://{url}"


class ReviewApiError(Exception):
    """The review API refused a call; ``status`` is the HTTP status (0: no answer), ``detail`` its one-line reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status})" if status else detail)
        self.status = status
        self.detail = detail


class Unauthorized(ReviewApiError):
    """401: missing, unknown or revoked token."""


class Forbidden(ReviewApiError):
    """403: an admin endpoint called with a reviewer's token."""


class LeaseLost(ReviewApiError):
    """409: the lease is not the caller's or has ended; for undo: nothing to undo."""


class Rejected(ReviewApiError):
    """422: an invalid body, e.g. a label outside the label set."""


class Unavailable(ReviewApiError):
    """The service did not answer, or answered 5xx (503: its Redis is down; 500: it failed), past the retries."""


_ERRORS: dict[int, type[ReviewApiError]] = {401: Unauthorized, 403: Forbidden, 409: LeaseLost, 422: Rejected, 503: Unavailable}


@dataclass(frozen=True)
class ReviewItem:
    """A record leased to the caller (``POST /api/v1/claim``), with what is needed to answer it."""

    id: str
    lease: str
    lease_expires_at: float
    lease_seconds: float
    record: dict[str, Any]
    proposed_label: str | None
    probabilities: dict[str, float]
    reason: str
    priority: float
    labels: tuple[str, ...]
    overlap: bool
    model_version: int | None = None
    requested_at: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReviewItem:
        """From the API's ``item`` object (fields it does not know are kept in ``raw``)."""
        return cls(
            id=str(data["id"]),
            lease=str(data["lease"]),
            lease_expires_at=float(data["lease_expires_at"]),
            lease_seconds=float(data["lease_seconds"]),
            record=dict(data.get("record") or {}),
            proposed_label=data.get("proposed_label"),
            probabilities={str(k): float(v) for k, v in (data.get("probabilities") or {}).items()},
            reason=str(data.get("reason", "")),
            priority=float(data.get("priority", 0.0)),
            labels=tuple(str(label) for label in data.get("labels") or ()),
            overlap=bool(data.get("overlap", False)),
            model_version=data.get("model_version"),
            requested_at=data.get("requested_at"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class AnswerReceipt:
    """An accepted answer: its id, and ``state`` (done, waiting: an overlap item needs more answers, consolidating)."""

    answer_id: str
    id: str
    label: str
    state: str
    undo_seconds: float


@dataclass(frozen=True)
class UndoResult:
    """An undone answer: the retraction's id and the item, leased to the caller again."""

    retraction_id: str
    item: ReviewItem
    label: str = ""
    """The label of the withdrawn answer."""


class ReviewClient:
    """One reviewer's client of the review API v1.

    Parameters
    ----------
    url
        The review service, e.g. ``http://localhost:9402``.
    token
        The reviewer's token (``labelstream review token add NAME``).
    timeout
        Seconds per request.
    retry_seconds
        How long retries of one call may take in all before :class:`Unavailable`.
    stop
        An event that cuts retry waits short (the caller is shutting down).
    transport
        An httpx transport (tests).
    """

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 10.0,
        retry_seconds: float = 10.0,
        stop: threading.Event | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = service_url(url)
        self.retry_seconds = retry_seconds
        self._stop = stop or threading.Event()
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "labelstream-review-client"},
            timeout=timeout,
            transport=transport,
        )

    # -- the API -----------------------------------------------------------------------------------

    def claim(self) -> ReviewItem | None:
        """The next item for this reviewer (the one they hold, if any), or ``None`` when nothing waits for them."""
        response = self._call("POST", "/claim")
        if response.status_code == 204:
            return None
        return ReviewItem.from_json(response.json()["item"])

    def answer(self, item_id: str, lease: str, label: str, note: str | None = None) -> AnswerReceipt:
        """Answer a leased item; :class:`LeaseLost` if the lease ended, :class:`Rejected` for an unknown label."""
        body: dict[str, Any] = {"id": item_id, "lease": lease, "label": label}
        if note:
            body["note"] = note
        data = self._call("POST", "/answer", body).json()
        return AnswerReceipt(data["answer_id"], data["id"], data["label"], data["state"], float(data["undo_seconds"]))

    def skip(self, item_id: str, lease: str, note: str | None = None) -> None:
        """Pass on a leased item: others get it, this reviewer never again; a note (why) is shown to them."""
        self._call("POST", "/skip", {"id": item_id, "lease": lease} | ({"note": note} if note else {}))

    def unsure(self, item_id: str, lease: str, note: str | None = None) -> None:
        """Not sure: the item goes to the experts (never back to this reviewer).

        :class:`Rejected` when nobody else has the expert role (the item stays leased to you).
        """
        body = {"id": item_id, "lease": lease} | ({"note": note} if note else {})
        self._call("POST", "/unsure", body)

    def release(self, item_id: str, lease: str) -> None:
        """Hand a leased item back unanswered (the reviewer leaves): it returns to the queue now."""
        self._call("POST", "/release", {"id": item_id, "lease": lease}, repeatable=False)  # quitting: no retries

    def heartbeat(self, item_id: str, lease: str) -> float:
        """Extend a lease; the new expiry (epoch seconds)."""
        return float(self._call("POST", "/heartbeat", {"id": item_id, "lease": lease}).json()["lease_expires_at"])

    def undo(self) -> UndoResult:
        """Withdraw this reviewer's last answer (within the service's undo window); :class:`LeaseLost` if none."""
        data = self._call("POST", "/undo", repeatable=False).json()
        return UndoResult(data["retraction_id"], ReviewItem.from_json(data["item"]), str(data.get("withdrawn_label") or ""))

    def recent(self) -> list[dict[str, Any]]:
        """This reviewer's last answers, newest first (``id``, ``answer_id``, ``label``, ``correctable_until``, ...)."""
        return list(self._call("GET", "/recent").json()["answers"])

    def correct(self, answer_id: str, label: str, note: str | None = None) -> dict[str, Any]:
        """Give one of this reviewer's recent answers another label (sent again after a lost response: same result)."""
        body = {"answer_id": answer_id, "label": label} | ({"note": note} if note else {})
        return dict(self._call("POST", "/correct", body).json())

    def labels(self) -> tuple[list[str], bool]:
        """The label set in hotkey order, and whether it is open (any label accepted)."""
        data = self._call("GET", "/labels").json()
        return list(data["labels"]), bool(data["open"])

    def guidelines(self) -> str:
        """The labeling guidelines, Markdown (empty when none are configured)."""
        return str(self._call("GET", "/guidelines").json().get("markdown", ""))

    def me(self) -> dict[str, Any]:
        """``{"reviewer": name, "role": role}`` of the token."""
        return dict(self._call("GET", "/me").json())

    def stats(self) -> dict[str, Any]:
        """``GET /api/v1/stats``: this reviewer's counts, the queue, everyone's counts, agreement."""
        return dict(self._call("GET", "/stats").json())

    # -- plumbing ----------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ReviewClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None, repeatable: bool = True) -> httpx.Response:
        deadline = time.monotonic() + self.retry_seconds
        backoff = 0.25
        while True:
            wait: float | None = None
            try:
                response = self._http.request(method, API + path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the service: safe to repeat
                failure = Unavailable(0, f"cannot reach the review service at {self.url} ({type(exc).__name__})")
            except httpx.TransportError as exc:  # may have reached it
                failure = Unavailable(0, f"no answer from the review service at {self.url} ({type(exc).__name__})")
                if not repeatable:
                    raise failure from exc
            else:
                if response.status_code < 400:
                    return response
                failure = _error(response)
                if not isinstance(failure, Unavailable) or not repeatable:
                    raise failure
                wait = _retry_after(response)
            wait = backoff if wait is None else wait
            if time.monotonic() + wait > deadline or self._stop.is_set():
                raise failure
            self._stop.wait(wait)
            backoff = min(backoff * 2, 4.0)


def _error(response: httpx.Response) -> ReviewApiError:
    try:
        detail = str(response.json().get("detail", "")) or response.reason_phrase
    except ValueError:
        detail = response.text.strip()[:200] or response.reason_phrase
    kind = Unavailable if response.status_code >= 500 else _ERRORS.get(response.status_code, ReviewApiError)
    return kind(response.status_code, detail)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
