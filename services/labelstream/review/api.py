"""The review API v1 (FastAPI), the web page, ``/metrics`` and the probes (on ``review.ops_port`` if set).

Every ``/api/v1`` call needs ``Authorization: Bearer <token>``; without a
valid one it answers 401 before reading anything else, so nothing is written.
The reviewer id is the token's name. Errors are one JSON shape,
``{"detail": "<one line>"}``: 401 (token), 403 (admin only), 409 (the lease is
not the caller's or has ended; nothing to undo), 404 (no such gold item), 422
(invalid body, label outside the label set), 503 (Redis unavailable: retry).
"""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations, some of them local.
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST

from labelstream.metrics import package_version
from labelstream.review.api_models import (
    AgreementStats,
    AnswerIn,
    AnswerOut,
    CorrectIn,
    CorrectOut,
    ExpireIn,
    ExpireOut,
    GoldAdded,
    GoldDeleted,
    GoldIn,
    GoldStats,
    GuidelinesOut,
    HeartbeatOut,
    HoldCleared,
    Item,
    ItemOut,
    LabelsOut,
    LeaseRef,
    MeOut,
    OverviewOut,
    ProbeOut,
    Problem,
    RecentAnswer,
    RecentOut,
    ReleaseOut,
    RequeueIn,
    RequeueOut,
    ReviewerQueueStats,
    ReviewerStats,
    SkipIn,
    SkipNote,
    SkipOut,
    StatsOut,
    UndoOut,
    UnsureOut,
)
from labelstream.review.auth import Principal, TokenStore
from labelstream.review.consolidation import Consolidator
from labelstream.review.gold import DAYS_KEPT, RECENT_DAYS, GoldSet
from labelstream.review.gold_proposals import Proposal
from labelstream.review.guidelines import GuidelinesFile
from labelstream.review.holds import ReviewerHolds
from labelstream.review.items import LeasedItem
from labelstream.review.labelset import LabelSet
from labelstream.review.metrics import ReviewMetrics
from labelstream.review.overview import gold_stats, lead_overview
from labelstream.review.queue import LeaseConflict, ReviewQueue
from labelstream.review.reasons import describe
from labelstream.settings import Settings

Probe = Callable[[], tuple[bool, dict[str, Any]]]

STATIC = files("labelstream.review") / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass
class ReviewContext:
    """What the routes use: settings, the queue and its neighbours, metrics and the probes."""

    settings: Settings
    queue: ReviewQueue
    tokens: TokenStore
    labels: LabelSet
    guidelines: GuidelinesFile
    metrics: ReviewMetrics
    consolidator: Consolidator
    gold: GoldSet
    holds: ReviewerHolds
    propose: Callable[[dict[str, Any]], Proposal | None] | None  # gold proposals from the live model (or none)
    live: Probe
    ready: Probe


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be parsed (not UTF-8 JSON)."},
    401: {"model": Problem, "description": "Missing, unknown or revoked token."},
    422: {"model": Problem, "description": "Invalid body."},
    503: {"model": Problem, "description": "Redis is unavailable; retry shortly."},
}
CONFLICT = {409: {"model": Problem, "description": "The lease is not yours or has ended."}}


def create_app(ctx: ReviewContext) -> FastAPI:
    """The whole review service as one ASGI app."""
    app = FastAPI(
        title="labelstream review API",
        version=package_version(),
        description="Claim records, answer them with a label of the label set, skip, undo. "
        "Every /api/v1 call needs `Authorization: Bearer <token>` (`labelstream review token add NAME`).",
        docs_url=None,  # the Swagger page loads its assets from a CDN; /openapi.json is what tools read
        redoc_url=None,
    )
    app.include_router(_api_router(ctx), prefix="/api/v1")
    if ctx.settings.review.ops_port is None:  # else on their own port (create_ops_app): 404 here
        _add_ops_routes(app, ctx)
    _add_page_routes(app)
    _add_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return app


def _known_query(request: Request, *known: str) -> None:
    """Refuse (422) a query parameter the route does not take: a misspelt one would silently mean its default."""
    if unknown := sorted(set(request.query_params) - set(known)):
        raise HTTPException(
            422,
            f"unknown query parameter {unknown[0]!r} ({' and '.join(known)} "
            f"{'is' if len(known) == 1 else 'are'} known)",
        )


def _api_router(ctx: ReviewContext) -> APIRouter:
    router = APIRouter(tags=["review"], responses=ERRORS)
    bearer = HTTPBearer(auto_error=False, description="A review token (`labelstream review token add NAME`).")

    def principal(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        if credentials is None:
            raise HTTPException(
                401,
                "missing Authorization: Bearer <token> (an admin creates one: labelstream review token add NAME)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        who = ctx.tokens.authenticate(credentials.credentials)
        if who is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return who

    Who = Annotated[Principal, Depends(principal)]

    def admin(who: Who) -> Principal:
        if not who.is_admin:
            raise HTTPException(403, "admins only (labelstream review token add NAME --role admin)")
        return who

    Admin = Annotated[Principal, Depends(admin)]
    admin_only = {403: {"model": Problem, "description": "Admins only."}}
    review = ctx.settings.review
    queue, metrics = ctx.queue, ctx.metrics

    def item_out(item: LeasedItem) -> Item:
        request = item.request
        reason_title, reason_help = describe(request.get("reason", ""))
        expert, no_expert = queue.item_fields(item.key, "expert", "no_expert")  # the key: a gold instance's own
        return Item(
            id=item.id,
            lease=item.lease,
            lease_expires_at=item.lease_expires_at,
            lease_seconds=review.lease_seconds,
            record=request["record"],
            proposed_label=request.get("proposed_label"),
            probabilities=request.get("probabilities", {}),
            reason=request.get("reason", ""),
            reason_title=reason_title,
            reason_help=reason_help,
            priority=request.get("priority", 0.0),
            model_version=request.get("model_version"),
            requested_at=request.get("timestamp"),
            labels=ctx.labels.labels() or sorted(request.get("probabilities", {})),  # open set: the model's classes
            overlap=item.overlap,
            skip_notes=[SkipNote(**note) for note in queue.skip_notes(item.key)],
            expert=expert is not None,
            no_expert=no_expert is not None,
        )

    @router.post(
        "/claim",
        response_model=ItemOut,
        responses={
            204: {"description": "Nothing is waiting for this reviewer."},
            403: {
                "model": Problem,
                "description": "Held from new items for low gold accuracy (review.gold_hold_below); "
                "the detail gives the figures. The review lead clears a hold.",
            },
        },
    )
    def claim(who: Who) -> Any:
        """The next record for you, leased for `lease_seconds` (the one you hold, if any: a reload keeps it)."""
        if ctx.holds.on:  # the learner hears of each hold as it takes effect (holds.py, tell_learner)
            hold = ctx.holds.check(who.reviewer)
            ctx.holds.tell_learner(who.reviewer, hold is not None)
            if hold is not None:
                metrics.claims_held.inc()
                raise HTTPException(403, hold.message())
        offer = ctx.gold.offer(who.reviewer, review.gold_share, propose=ctx.propose) if review.gold_share > 0 else None
        result = queue.claim(who.reviewer, expert=who.is_expert, gold=offer)
        metrics.leases_expired.inc(result.reaped)
        if (
            review.gold_share > 0
        ):  # read after the claim marked its gold item served (alert LabelstreamReviewerGoldUsedUp)
            metrics.set_gold_left(who.reviewer, ctx.gold.left([who.reviewer])[who.reviewer])
        if result.item is None:
            return Response(status_code=204)
        return ItemOut(item=item_out(result.item))

    @router.post("/answer", response_model=AnswerOut, responses=CONFLICT)
    def answer(body: AnswerIn, who: Who) -> AnswerOut:
        """Answer your leased record with a label of the label set (sent again after a lost response: same result)."""
        if body.label not in ctx.labels:
            raise HTTPException(
                422,
                f"label {body.label!r} is not in the label set ({ctx.labels.describe()}); "
                "an admin adds a label with: labelstream labels add NAME",
            )
        if body.note is not None and len(body.note) > review.max_note_length:
            raise HTTPException(
                422, f"note is longer than {review.max_note_length} characters (review.max_note_length)"
            )
        result = queue.answer(body.id, who.reviewer, body.lease, body.label, body.note)
        if not result.repeated:
            _today, median = queue.reviewer_stats(who.reviewer)
            metrics.record_answer(who.reviewer, result.seconds, median)
        return AnswerOut(
            answer_id=result.answer_id,
            id=body.id,
            label=body.label,
            state=result.state,
            undo_seconds=review.undo_seconds,
        )

    @router.post("/skip", response_model=SkipOut, responses=CONFLICT)
    def skip(body: SkipIn, who: Who) -> SkipOut:
        """Pass on your leased record: it goes to other reviewers, never back to you; a note (why) goes with it."""
        if body.note is not None and len(body.note) > review.max_note_length:
            raise HTTPException(
                422, f"note is longer than {review.max_note_length} characters (review.max_note_length)"
            )
        queue.skip(body.id, who.reviewer, body.lease, body.note)
        metrics.record_skip(who.reviewer)
        return SkipOut(id=body.id)

    @router.post("/unsure", response_model=UnsureOut, responses=CONFLICT)
    def unsure(body: SkipIn, who: Who) -> UnsureOut:
        """Not sure: your leased record goes to the experts (reviewers with the expert role), never back to you; a
        note (why) goes with it."""
        if body.note is not None and len(body.note) > review.max_note_length:
            raise HTTPException(
                422, f"note is longer than {review.max_note_length} characters (review.max_note_length)"
            )
        if not ctx.tokens.experts() - {who.reviewer}:
            raise HTTPException(
                422,
                "nobody else has the expert role, so no one would answer it: skip it (s) with a "
                "note instead, or ask an admin for one (labelstream review token add NAME --role expert)",
            )
        queue.unsure(body.id, who.reviewer, body.lease, body.note)
        return UnsureOut(id=body.id)

    @router.post("/release", response_model=ReleaseOut, responses=CONFLICT)
    def release(body: LeaseRef, who: Who) -> ReleaseOut:
        """Hand your leased record back unanswered (you leave): it returns to the queue now, and may come back to you."""
        queue.release(body.id, who.reviewer, body.lease)
        return ReleaseOut(id=body.id)

    @router.post("/heartbeat", response_model=HeartbeatOut, responses=CONFLICT)
    def heartbeat(body: LeaseRef, who: Who) -> HeartbeatOut:
        """Keep your lease while you work on the record (the page sends one every third of the lease)."""
        return HeartbeatOut(lease_expires_at=queue.heartbeat(body.id, who.reviewer, body.lease))

    @router.post(
        "/undo", response_model=UndoOut, responses={409: {"model": Problem, "description": "Nothing to undo."}}
    )
    def undo(who: Who) -> UndoOut:
        """Withdraw your last answer (within `undo_seconds`): a retraction is published and the record is yours again."""
        result = queue.undo(who.reviewer)
        metrics.record_undo(who.reviewer)
        return UndoOut(
            retraction_id=result.retraction_id,
            item=item_out(result.item),
            withdrawn_label=result.label,
            withdrawn_note=result.note or None,
        )

    @router.get(
        "/recent",
        response_model=RecentOut,
        responses={409: {"model": Problem, "description": "The cursor's answer is no longer in your history."}},
    )
    def recent(
        request: Request,
        who: Who,
        cursor: Annotated[
            str | None, Query(min_length=1, max_length=256, description="`next_cursor` of the previous page.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Answers per page.")] = 50,
    ) -> RecentOut:
        """Your answers, newest first, a page at a time (your last 2000 are kept), and until when each can be
        corrected (POST /api/v1/correct)."""
        _known_query(request, "cursor", "limit")  # a misspelt cursor would restart the list
        window = review.correct_seconds
        answers = []
        entries, more = queue.history(who.reviewer, cursor or None, limit)
        for entry in entries:
            correctable = window > 0
            answers.append(
                RecentAnswer(
                    id=entry["id"],
                    answer_id=entry["answer_id"],
                    label=entry["label"],
                    answered_at=entry["at"],
                    correctable_until=entry["at"] + window if correctable else None,
                    corrected_from=entry.get("was"),
                    overlap=bool(entry.get("overlap")),
                )
            )
        return RecentOut(
            answers=answers, correct_seconds=window, next_cursor=entries[-1]["id"] if more and entries else None
        )

    @router.post(
        "/correct", response_model=CorrectOut, responses={409: {"model": Problem, "description": "Not correctable."}}
    )
    def correct(body: CorrectIn, who: Who) -> CorrectOut:
        """Give one of your recent answers another label (within `correct_seconds`): a retraction of it and the new
        answer are published, as by an undo, and the record is not served again (sent again after a lost response:
        same result). On an overlap item the new answer replaces your vote: the consensus counts it, or if it was
        published already, is recomputed and superseded when its label changes."""
        if body.label not in ctx.labels:
            raise HTTPException(
                422,
                f"label {body.label!r} is not in the label set ({ctx.labels.describe()}); "
                "an admin adds a label with: labelstream labels add NAME",
            )
        if body.note is not None and len(body.note) > review.max_note_length:
            raise HTTPException(
                422, f"note is longer than {review.max_note_length} characters (review.max_note_length)"
            )
        if review.correct_seconds <= 0:
            raise LeaseConflict("correcting answers is off (review.correct_seconds = 0)")
        result = queue.correct(who.reviewer, body.answer_id, body.label, body.note)
        if result.changed and not result.repeated:
            metrics.record_correction(who.reviewer)
        consensus = ("recomputed" if result.state == "done" else "pending") if result.overlap else None
        return CorrectOut(
            id=result.id,
            answer_id=result.answer_id,
            retraction_id=result.retraction_id or None,
            label=body.label,
            changed=result.changed,
            consensus=consensus,
        )

    @router.get("/labels", response_model=LabelsOut)
    def labels(who: Who) -> LabelsOut:
        """The label set, in hotkey order (1-9)."""
        return LabelsOut(labels=ctx.labels.labels(), open=ctx.labels.is_open())

    @router.get("/guidelines", response_model=GuidelinesOut)
    def guidelines(who: Who) -> GuidelinesOut:
        """The labeling guidelines (`review.guidelines_file`), as Markdown and as HTML."""
        current = ctx.guidelines.get()
        return GuidelinesOut(markdown=current.markdown, html=current.html, configured=current.configured)

    @router.get("/me", response_model=MeOut)
    def me(who: Who) -> MeOut:
        """Who the token belongs to."""
        return MeOut(reviewer=who.reviewer, role=who.role)

    @router.get("/stats", response_model=StatsOut)
    def stats(who: Who) -> StatsOut:
        """Your count today and seconds per answer, the queue (its waiting count exact below
        `review.queue_counter_exact_below`, else rounded down to `review.queue_counter_step`: `waiting_rounded`),
        everyone's counts today, agreement on overlap items."""
        today, median = queue.reviewer_stats(who.reviewer)
        counts = queue.counts()
        # as reviewers see it, whoever asks: rounded above a size (review/queue_counter.py); the overview is exact
        waiting, rounded = queue.counter.shown(counts.waiting)
        return StatsOut(
            reviewer=who.reviewer,
            me=ReviewerStats(answered_today=today, seconds_per_answer=median),
            queue=ReviewerQueueStats(  # no outbox, no experts' line: they move otherwise for gold (the overview has them)
                waiting=waiting,
                waiting_rounded=rounded,
                leased=counts.leased,
                consolidating=counts.consolidating,
                answered=counts.answered,
            ),
            reviewers=queue.reviewers_today(),
            agreement=AgreementStats(**ctx.consolidator.summary()),
        )

    @router.get("/admin/overview", response_model=OverviewOut, responses=admin_only)
    def overview(who: Admin) -> OverviewOut:
        """Admin: waiting records by reason and age, who holds what, each reviewer's day and agreement."""
        return lead_overview(queue, ctx.consolidator, gold=gold_stats(ctx.gold, review.gold_share, holds=ctx.holds))

    @router.post("/admin/gold", response_model=GoldAdded, responses=admin_only)
    def gold_add(body: GoldIn, who: Admin) -> GoldAdded:
        """Admin: add gold items (known answers), served to reviewers at `review.gold_share` to measure them; an id
        already there is replaced. Their labels must be in the label set."""
        for item in body.items:
            if unknown := sorted(label for label in item.labels_used() if label not in ctx.labels):
                raise HTTPException(
                    422,
                    f"gold item {item.id!r}: label {unknown[0]!r} is not in the label set "
                    f"({ctx.labels.describe()}); an admin adds a label with: labelstream labels add NAME",
                )
        unique = list({item.id: item for item in body.items}.values())
        added = ctx.gold.add(unique)
        return GoldAdded(added=added, replaced=len(unique) - added, count=ctx.gold.count())

    @router.get("/admin/gold", response_model=GoldStats, responses=admin_only)
    def gold_get(
        request: Request,
        who: Admin,
        days: Annotated[
            int, Query(ge=1, le=DAYS_KEPT, description="The days each reviewer's recent figures cover.")
        ] = RECENT_DAYS,
    ) -> GoldStats:
        """Admin: how many gold items there are, and each reviewer's final gold answers, right and accuracy (all time
        and in the last `days` days)."""
        _known_query(request, "days")  # a misspelt days would silently give the default week
        return gold_stats(ctx.gold, review.gold_share, days, holds=ctx.holds)

    @router.post("/admin/gold/reviewers/{reviewer}/clear", response_model=HoldCleared, responses=admin_only)
    def gold_clear(reviewer: str, who: Admin) -> HoldCleared:
        """Admin: clear a reviewer's hold (review.gold_hold_below) for 7 days, the time the recent window takes to
        forget the answers behind it; a reviewer not held now is exempted all the same."""
        return HoldCleared(reviewer=reviewer, cleared_until=ctx.holds.clear(reviewer))

    @router.delete(
        "/admin/gold/{gold_id}",
        response_model=GoldDeleted,
        responses={**admin_only, 404: {"model": Problem, "description": "No such gold item."}},
    )
    def gold_delete(gold_id: str, who: Admin) -> GoldDeleted:
        """Admin: remove a gold item; it is not served again (answers already given still count)."""
        if not ctx.gold.delete(gold_id):
            raise HTTPException(404, f"no gold item {gold_id!r} (GET /api/v1/admin/gold counts them)")
        return GoldDeleted(id=gold_id)

    @router.post("/admin/requeue", response_model=RequeueOut, responses=admin_only)
    def requeue(body: RequeueIn, who: Admin) -> RequeueOut:
        """Admin: take held records back from their reviewers (gone, page left open), into the queue now."""
        ids = list(body.ids) + (queue.held_ids(body.reviewer) if body.reviewer else [])
        return RequeueOut(requeued=queue.requeue(ids))

    @router.post("/admin/expire", response_model=ExpireOut, responses=admin_only)
    def expire(body: ExpireIn, who: Admin) -> ExpireOut:
        """Admin: take waiting records out of the queue for good (their features are no longer kept for late answers)."""
        ids = list(body.ids)
        if body.older_than_seconds is not None:
            ids += queue.waiting_ids(older_than=time.time() - body.older_than_seconds)
        return ExpireOut(expired=queue.expire(ids))

    return router


def create_ops_app(ctx: ReviewContext) -> FastAPI:
    """``/metrics`` and the probes alone, for ``review.ops_port``: Prometheus and the orchestrator, not reviewers.

    Their figures move when a gold answer becomes final (the outbox, ``labelstream_review_gold_answers_total``), so
    a reviewer must not read them; on this port, which only the cluster reaches, they need no token.
    """
    app = FastAPI(
        title="labelstream review ops", version=package_version(), docs_url=None, redoc_url=None, openapi_url=None
    )
    _add_ops_routes(app, ctx)
    return app


def _add_ops_routes(app: FastAPI, ctx: ReviewContext) -> None:
    def probe(check: Probe) -> JSONResponse:
        ok, detail = check()
        return JSONResponse({"healthy": ok, **detail}, status_code=200 if ok else 503)

    probed = {200: {"model": ProbeOut}, 503: {"model": ProbeOut, "description": "Not live / not ready."}}

    @app.get("/livez", tags=["service"], summary="200 while the process and its loops turn", responses=probed)
    def livez() -> JSONResponse:
        return probe(ctx.live)

    @app.get(
        "/readyz",
        tags=["service"],
        summary="200 when Redis and Kafka answer and answers are being published",
        responses=probed,
    )
    def readyz() -> JSONResponse:
        return probe(ctx.ready)

    @app.get("/healthz", tags=["service"], summary="Alias of /readyz", responses=probed)
    def healthz() -> JSONResponse:
        return probe(ctx.ready)

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    @app.get("/admin", include_in_schema=False)
    def admin_page() -> FileResponse:
        # The lead's view: the HTML holds no data; it reads /api/v1/admin/overview with an admin token (403 otherwise).
        return FileResponse(str(STATIC / "admin.html"), headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LeaseConflict)
    def conflict(_request: Request, exc: LeaseConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(redis.RedisError)
    def redis_down(_request: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"Redis is unavailable ({type(exc).__name__}); retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(RequestValidationError)
    def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        detail = f"{where}: {first.get('msg')}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        return JSONResponse({"detail": detail}, status_code=422)
