"""``labelstream review``: tokens of the review service, gold items, and expiring items (admin actions)."""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, human_duration, print_json, say
from labelstream.errors import LabelstreamError
from labelstream.review.auth import ROLES

if TYPE_CHECKING:  # redis is imported by the commands that use it, not by `labelstream --help`
    from labelstream.datafile import Row
    from labelstream.review.api_models import GoldFigures, GoldStats
    from labelstream.review.auth import TokenStore
    from labelstream.review.gold import GoldItem, GoldSet
    from labelstream.review.holds import ReviewerHolds
    from labelstream.review.labelset import LabelSet
    from labelstream.settings import Settings

# no_args_is_help off: `labelstream review` alone starts the terminal reviewer (token from $LABELSTREAM_REVIEW_TOKEN)
app = command_group("The review service: tokens for reviewers, gold items, the lead's status, expiring waiting items.",
                    no_args_is_help=False)
token_app = command_group("Review tokens: one per reviewer, stored only as a hash.")
app.add_typer(token_app, name="token")
gold_app = command_group(
    "Gold items: records of known label served among the others (review.gold_share) to measure each reviewer."
)
app.add_typer(gold_app, name="gold")


def _tokens(settings: Settings) -> TokenStore:
    from labelstream.review.auth import TokenStore
    from labelstream.store.connection import connect

    return TokenStore(connect(settings.redis), settings.redis.key_prefix)


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


@token_app.command("add")
def token_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The reviewer's name: the reviewer id of their answers.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)} (admins may also expire items).")] = "reviewer",
) -> None:
    """Create a token for a reviewer; it is printed once, alone on the last line (stdout)."""
    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    try:
        token = _tokens(state(ctx).settings()).add(name, role)  # type: ignore[arg-type]
    except ValueError as exc:
        raise LabelstreamError(str(exc)) from exc
    say(f"token for {name} ({role}); shown only now, store it (revoke: labelstream review token revoke {name}):")
    print(token)


@token_app.command("list")
def token_list(
    ctx: typer.Context, as_json: JsonFlag = False
) -> None:
    """Every token: its id, reviewer, role and creation time. The token itself is never shown."""
    infos = _tokens(state(ctx).settings()).list()
    if as_json:
        print_json([{"id": i.token_id, "reviewer": i.reviewer, "role": i.role, "created_at": i.created_at} for i in infos])
        return
    if not infos:
        say("no tokens yet: labelstream review token add NAME")
        return
    table = Table("id", "reviewer", "role", "created")
    for info in infos:
        table.add_row(info.token_id, info.reviewer, info.role, _when(info.created_at))
    table.print()


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, name_or_id: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="A reviewer (all their tokens) or a token id.")]
) -> None:
    """Revoke tokens: every call with them answers 401 from now on; a reviewer left without a token gives back
    the records they hold (their page can no longer say so itself)."""
    from labelstream.review.queue import ReviewQueue
    from labelstream.store.connection import connect

    settings = state(ctx).settings()
    tokens = _tokens(settings)
    owners = {info.reviewer for info in tokens.list()}
    revoked = tokens.revoke(name_or_id)
    if not revoked:
        raise LabelstreamError(f"no token of reviewer or id {name_or_id!r} (labelstream review token list)")
    gone = owners - {info.reviewer for info in tokens.list()}
    queue = ReviewQueue.from_settings(connect(settings.redis), settings)
    requeued = queue.requeue([record_id for reviewer in sorted(gone) for record_id in queue.held_ids(reviewer)])
    print(f"revoked {revoked} token(s) of {name_or_id}" + (f"; requeued {requeued} record(s) they held" if requeued else ""))


@app.command("expire")
def expire(
    ctx: typer.Context,
    ids: Annotated[Optional[list[str]], typer.Argument(metavar="IDS", help="Record ids of waiting items.")] = None,  # noqa: UP007
    older_than_days: Annotated[
        Optional[float], typer.Option(help="...or every item requested more than this many days ago.", min=0)  # noqa: UP007
    ] = None,
) -> None:
    """Take waiting items out of the queue for good. Use it when their answers will never come."""
    if not ids and older_than_days is None:
        raise typer.BadParameter("give record ids or --older-than-days", param_hint="IDS")
    from labelstream.review.queue import ReviewQueue
    from labelstream.store.connection import connect

    settings = state(ctx).settings()
    queue = ReviewQueue.from_settings(connect(settings.redis), settings)
    doomed = list(ids or [])
    if older_than_days is not None:
        doomed += queue.waiting_ids(older_than=time.time() - older_than_days * 86400)
    expired = queue.expire(doomed)
    print(f"expired {expired} waiting item(s)", file=sys.stdout)


@app.command("requeue")
def requeue(
    ctx: typer.Context,
    ids: Annotated[Optional[list[str]], typer.Argument(metavar="IDS", help="Record ids of held items.")] = None,  # noqa: UP007
    reviewer: Annotated[Optional[str], typer.Option(help="...or every item this reviewer holds.")] = None,  # noqa: UP007
    held_longer_than_minutes: Annotated[
        Optional[float], typer.Option(help="...or every item held longer than this.", min=0)  # noqa: UP007
    ] = None,
) -> None:
    """Take held records back from their reviewers into the queue now (someone left with the page open)."""
    if not ids and reviewer is None and held_longer_than_minutes is None:
        raise typer.BadParameter("give record ids, --reviewer or --held-longer-than-minutes", param_hint="IDS")
    from labelstream.review.queue import ReviewQueue
    from labelstream.store.connection import connect

    settings = state(ctx).settings()
    queue = ReviewQueue.from_settings(connect(settings.redis), settings)
    older = None if held_longer_than_minutes is None else time.time() - held_longer_than_minutes * 60
    chosen = list(ids or [])
    if reviewer is not None or older is not None:
        chosen += queue.held_ids(reviewer, older)
    print(f"requeued {queue.requeue(chosen)} held item(s)", file=sys.stdout)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """The review lead's view: waiting records by reason and age, who holds what, each reviewer's day, agreement."""
    from labelstream.review.consolidation import Consolidator
    from labelstream.review.gold import GoldSet
    from labelstream.review.labelset import LabelSet
    from labelstream.review.metrics import ReviewMetrics
    from labelstream.review.overview import gold_stats, lead_overview
    from labelstream.review.queue import ReviewQueue
    from labelstream.store.connection import connect

    settings = state(ctx).settings()
    client = connect(settings.redis)
    queue = ReviewQueue.from_settings(client, settings)
    review = settings.review
    consolidator = Consolidator(queue, ReviewMetrics(), review.consolidation, review.adjudication,
                                LabelSet.from_settings(client, settings).labels(), review.adjudication_timeout_seconds)
    gold = GoldSet(client, settings.redis.key_prefix)
    view = lead_overview(queue, consolidator, gold=gold_stats(gold, review.gold_share, holds=_holds(settings, gold)))
    if as_json:
        print_json(view.model_dump())
        return
    q = view.queue
    experts = f"{q.expert} for experts, " if q.expert else ""  # records reviewers were not sure of
    print(f"queue: {q.waiting} waiting, {experts}{q.leased} held, {q.consolidating} consolidating, "
          f"{q.unpublished} not yet published, {q.answered} answered")
    if q.expert_timed_out:  # as the admin page: only once some went back to the reviewers
        print(f"{q.expert_timed_out} went back to all reviewers: no expert took them within "
              f"review.expert_wait_seconds ({human_duration(int(review.expert_wait_seconds * 1000))})")
    if view.waiting_by_reason:
        note = f" (the first {view.counted})" if view.capped else ""
        by_reason = Table("reason", "waiting", "skipped", "with note", "oldest", title=f"waiting by reason{note}")
        for reason, row in sorted(view.waiting_by_reason.items(), key=lambda kv: -kv[1].waiting):
            by_reason.add_row(row.title or reason, row.waiting, row.skipped, row.with_notes,
                              human_duration(int(row.oldest_seconds * 1000)))
        by_reason.print()
    if view.reviewers:
        people = Table("reviewer", "answers", "skips", "s/answer", "agreement", "holding", title="reviewers today")
        gold_held = {h.id: f"gold {h.gold}" for h in view.held if h.gold}  # a gold instance's random id says nothing
        for name, day in view.reviewers.items():
            spa = "-" if day.seconds_per_answer is None else f"{day.seconds_per_answer:.1f}"
            agrees = "-" if day.consensus_agreement is None else f"{day.consensus_agreement:.0%}"
            skips = f"{day.skipped_today} · {day.unsure_today} not sure" if day.unsure_today else day.skipped_today  # as the page
            people.add_row(name, day.answered_today, skips, spa, agrees, gold_held.get(day.holding or "", day.holding or "-"))
        people.print()
    else:
        print("reviewers today: nobody has answered yet")
    a = view.agreement
    if a.kappa is not None or a.alpha is not None:
        kappa = "-" if a.kappa is None else f"{a.kappa:.2f}"
        alpha = "-" if a.alpha is None else f"{a.alpha:.2f}"
        print(f"agreement on overlap items: kappa {kappa}, alpha {alpha} ({a.consolidation})")
    if view.gold is not None and view.gold.count:
        answers = sum(row.answers for row in view.gold.reviewers.values())
        check = f"; {view.gold.to_check} to check its label" if view.gold.to_check else ""
        print(f"gold items: {view.gold.count}, {answers} final answer(s) to them (labelstream review gold stats){check}")
    if view.gold is not None and view.gold.none_left:
        print(f"gold items: none left for {view.gold.none_left} reviewer(s): upload more "
              "(labelstream review gold stats)")
    if view.gold is not None and view.gold.held:
        print(f"held from new items for low gold accuracy: {view.gold.held} reviewer(s) (labelstream review gold stats)")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _interval(figures: GoldFigures) -> str:
    return "-" if figures.low is None or figures.high is None else f"{figures.low:.0%}-{figures.high:.0%}"


def _gold(settings: Settings) -> tuple[GoldSet, LabelSet]:
    from labelstream.review.gold import GoldSet
    from labelstream.review.labelset import LabelSet
    from labelstream.store.connection import connect

    client = connect(settings.redis)
    return GoldSet(client, settings.redis.key_prefix), LabelSet.from_settings(client, settings)


@gold_app.command("add")
def gold_add(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(metavar="FILE", help="Records with their known label: .csv (with a header) or "
                                         ".jsonl (.gz, .bz2 too).", exists=True, dir_okay=False)],
    label_column: Annotated[str, typer.Option(help="Column holding the known label.")] = "label",
    id_column: Annotated[Optional[str], typer.Option(help="Column holding the gold item's id (default: <file>-<line>).")] = None,  # noqa: UP007
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the record's text (text.featurizer).")] = None,  # noqa: UP007
) -> None:
    """Add gold items (records of known label) from a CSV or JSONL file.

    Every column but the label, id and text columns is a feature, shown as a record's features are. An id
    already there is replaced. All or nothing: a bad row (columns missing, no label or one outside the label
    set, a feature that is not a finite number or a string) adds none, and the error names its line and the
    fix. Served with no proposal (as a cold-start record); POST /api/v1/admin/gold also takes a proposal."""
    from labelstream.datafile import open_rows

    gold, labels = _gold(state(ctx).settings())
    items: list[GoldItem] = []
    refused: list[str] = []
    for row in open_rows(data, label_column=label_column, id_column=id_column, text_column=text_column):
        item = _gold_item(row, labels, label_column)
        if isinstance(item, str):
            refused.append(f"line {row.line}: {item}")
        else:
            items.append(item)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise LabelstreamError(f"{data}: nothing added; {refused[0]}{more}")
    if not items:
        raise LabelstreamError(f"{data}: no rows")
    unique = list({item.id: item for item in items}.values())
    added = gold.add(unique)
    print(f"added {added} gold item(s), replaced {len(unique) - added}; {gold.count()} in the set")


def _gold_item(row: Row, labels: LabelSet, label_column: str) -> GoldItem | str:
    """One row of a gold file as a gold item, or what is wrong with it and how to fix it."""
    from pydantic import ValidationError

    from labelstream.review.gold import GoldItem

    if row.payload is None:
        return f"{row.error}; fix or remove that line"
    if not row.label:
        return f"no value in the label column {label_column!r}; give it its known label or remove that line"
    if row.label not in labels:
        return f"label {row.label!r} is not in the label set ({labels.describe()}; labelstream labels add NAME)"
    record = {key: value for key, value in row.payload.items() if key != "id"}
    try:
        return GoldItem(id=str(row.payload["id"]), record=record, label=row.label)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:])  # record.features.x -> features.x
        return f"{where}: {first['msg'].removeprefix('Value error, ')}; fix that value (a finite number or a string)"


@gold_app.command("remove")
def gold_remove(ctx: typer.Context, gold_id: Annotated[str, typer.Argument(metavar="ID", help="A gold item's id.")]) -> None:
    """Remove a gold item: it is not served again (answers already given still count)."""
    gold, _labels = _gold(state(ctx).settings())
    if not gold.delete(gold_id):
        raise LabelstreamError(f"no gold item {gold_id!r} (labelstream review gold stats counts them)")
    print(f"removed gold item {gold_id}; {gold.count()} in the set")


@gold_app.command("clear")
def gold_clear(ctx: typer.Context, reviewer: Annotated[str, typer.Argument(metavar="NAME", help="A reviewer's name.")]) -> None:
    """Clear a reviewer's hold (review.gold_hold_below): no hold for 7 days, the time the recent window takes to
    forget the gold answers behind it; after that only answers given since count."""
    settings = state(ctx).settings()
    gold, _labels = _gold(settings)
    holds = _holds(settings, gold)
    was = holds.check(reviewer)
    until = datetime.datetime.fromtimestamp(holds.clear(reviewer)).strftime("%Y-%m-%d %H:%M")
    print(f"cleared {reviewer} until {until}" + ("" if was else " (was not held)"))


def _holds(settings: Settings, gold: GoldSet) -> ReviewerHolds:
    from labelstream.review.holds import ReviewerHolds

    return ReviewerHolds(gold.client, gold, settings.review.gold_hold_below, settings.review.gold_hold_min_answers)


def _print_holds(stats: GoldStats) -> None:
    """Who is held and who was cleared, under the reviewers' table (nothing when holds are off and none ran)."""
    held = [name for name, row in stats.reviewers.items() if row.held]
    cleared = {name: row.cleared_until for name, row in stats.reviewers.items() if row.cleared_until}
    if stats.hold_below > 0:
        print(f"held (gold accuracy under {stats.hold_below:.0%}, 95 % sure, {stats.hold_min_answers}+ answers "
              f"in 7 d): {', '.join(held) or 'nobody'}")
        if held:
            print("clear a hold with: labelstream review gold clear NAME")
    for name, until in cleared.items():
        print(f"cleared: {name} until {datetime.datetime.fromtimestamp(until):%Y-%m-%d %H:%M}")


def _print_none_left(stats: GoldStats) -> None:
    """Gold items left to serve each reviewer, and who was served every one: their gold answers stop while their
    real ones go on (docs/review.md, Gold items, Serving)."""
    import textwrap

    left = ", ".join(f"{name} {row.gold_left}" for name, row in stats.reviewers.items())
    print(textwrap.fill(f"gold left (never served to them): {left}", 80, subsequent_indent="  "))
    if stats.none_left:
        names = ", ".join(name for name, row in stats.reviewers.items() if row.gold_left == 0)
        print(textwrap.fill(f"none left for {names}: no gold answer more from them while they answer records",
                            80, subsequent_indent="  "))
        print("upload more gold items: labelstream review gold add FILE")


@gold_app.command("stats")
def gold_stats_cmd(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=90, help="The days the 'recent' columns cover (today included).")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Each reviewer's accuracy on gold items, with its 95 % interval; the gold items, worst first.

    How many gold items there are, and per reviewer their final gold answers (past the undo window), how many
    were right, the accuracy and its 95 % Wilson interval, all time and in the last --days days (a reviewer
    good for months may not be this week). Then per gold item answered (worst first, at most 100): answers,
    right, share right, the most common wrong answer, and "check label" when most reviewers answered
    otherwise (a suspect known label)."""
    from labelstream.review.overview import gold_stats

    settings = state(ctx).settings()
    gold, _labels = _gold(settings)
    stats = gold_stats(gold, settings.review.gold_share, days, holds=_holds(settings, gold))
    if as_json:
        print_json(stats.model_dump())
        return
    serving = f"served at review.gold_share {stats.share:g}" if stats.share > 0 else "not served: review.gold_share is 0"
    pending = f"; {stats.pending} answer(s) within their undo window" if stats.pending else ""
    print(f"gold items: {stats.count}, {serving}{pending}")
    if not stats.reviewers:
        print("no final gold answer yet")
        return
    table = Table("reviewer", "answers", "right", "accuracy", "95 % interval", f"last {days} d", f"{days} d interval",
                  title="reviewers on gold items")
    for name, row in stats.reviewers.items():
        recent = row.recent
        table.add_row(name, row.answers, row.right, _share(row.accuracy), _interval(row),
                      "-" if recent is None else f"{_share(recent.accuracy)} of {recent.answers}",
                      "-" if recent is None else _interval(recent))
    table.print()
    _print_holds(stats)
    _print_none_left(stats)
    listed = f", the worst {len(stats.items)} of {stats.items_answered}" if stats.items_answered > len(stats.items) else ""
    items = Table("gold item", "known label", "answers", "right", "share right", "most common wrong", "note",
                  title=f"gold items, worst first{listed}")
    for item in stats.items:
        wrong = f"{item.top_wrong} ({item.top_wrong_answers})" if item.top_wrong else "-"
        items.add_row(item.id, item.label, item.answers, item.right, f"{item.share_right:.0%}", wrong,
                      "check its label" if item.check_label else "")
    items.print()
    if stats.to_check:
        print(f"{stats.to_check} gold item(s) to check: at least {stats.suspect_min_answers} answers, under "
              f"{stats.suspect_below:.0%} right; fix a wrong known label by uploading the item again "
              "(labelstream review gold add) or remove it (labelstream review gold remove ID)")
