"""``labelstream review``: tokens of the review service, and expiring items (admin actions)."""

from __future__ import annotations

import datetime
import sys
import time
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from labelstream.cli.context import state
from labelstream.cli.output import JsonFlag, Table, command_group, print_json, say
from labelstream.errors import LabelstreamError
from labelstream.review.auth import ROLES

if TYPE_CHECKING:  # redis is imported by the commands that use it, not by `labelstream --help`
    from labelstream.review.auth import TokenStore
    from labelstream.settings import Settings

# no_args_is_help off: `labelstream review` alone starts the terminal reviewer (token from $LABELSTREAM_REVIEW_TOKEN)
app = command_group("The review service: tokens for reviewers, expiring waiting items.", no_args_is_help=False)
token_app = command_group("Review tokens: one per reviewer, stored only as a hash.")
app.add_typer(token_app, name="token")


def _tokens(settings: Settings) -> TokenStore:
    from labelstream.review.auth import TokenStore
    from labelstream.store.connection import connect

    return TokenStore(connect(settings.redis), settings.redis.key_prefix)


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


@token_app.command("add")
def token_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The reviewer's name: the reviewer id of their answers.")],
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
    ctx: typer.Context, name_or_id: Annotated[str, typer.Argument(help="A reviewer (all their tokens) or a token id.")]
) -> None:
    """Revoke tokens: every call with them answers 401 from now on."""
    revoked = _tokens(state(ctx).settings()).revoke(name_or_id)
    if not revoked:
        raise LabelstreamError(f"no token of reviewer or id {name_or_id!r} (labelstream review token list)")
    print(f"revoked {revoked} token(s) of {name_or_id}")


@app.command("expire")
def expire(
    ctx: typer.Context,
    ids: Annotated[Optional[list[str]], typer.Argument(help="Record ids of waiting items.")] = None,  # noqa: UP007
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
