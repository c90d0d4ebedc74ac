"""``labelstream review --url URL --token T``: the terminal reviewer, as the callback of the ``review`` group.

``labelstream review token ...`` and ``labelstream review expire`` stay the
group's subcommands; given no subcommand, the group runs the terminal reviewer
(:mod:`labelstream.review_client.terminal`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.console import Console

from labelstream.cli.context import state
from labelstream.errors import LabelstreamError

URL_ENV = "LABELSTREAM_REVIEW_URL"
TOKEN_ENV = "LABELSTREAM_REVIEW_TOKEN"  # a token from the environment stays out of the process list and shell history
HELP = (
    "Review records in the terminal (labelstream review --token T: the page's keys, q quits), "
    "or manage the review service: tokens for reviewers, gold items, expiring waiting items."
)


def attach(group: typer.Typer) -> None:
    """Make ``labelstream review`` (no subcommand) start the terminal reviewer."""
    group.callback(invoke_without_command=True, help=HELP)(review)


def review(
    ctx: typer.Context,
    url: Annotated[Optional[str], typer.Option(envvar=URL_ENV, help="The review service (default: http://localhost:<review.port>).")] = None,  # noqa: UP007
    token: Annotated[Optional[str], typer.Option(envvar=TOKEN_ENV, help="Your review token (labelstream review token add NAME); better passed as $" + TOKEN_ENV + ".")] = None,  # noqa: UP007
) -> None:
    """Review records in the terminal, or manage tokens and items (subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    if not token:
        raise LabelstreamError(f"no review token: give --token T or set {TOKEN_ENV} (an admin creates one: labelstream review token add NAME)")
    from labelstream.review_client.client import service_url

    run_terminal(service_url(url or f"localhost:{state(ctx).settings().review.port}"), token)


def run_terminal(url: str, token: str) -> None:
    from labelstream.review_client.client import ReviewClient, Unauthorized, Unavailable
    from labelstream.review_client.keys import KeyReader
    from labelstream.review_client.terminal import TerminalReviewer

    console = Console(highlight=False)
    with ReviewClient(url, token, retry_seconds=5.0) as client, KeyReader() as keys:
        session = TerminalReviewer(client, console, keys)
        if console.is_terminal:
            console.set_alt_screen(True)
        try:
            # first contact: a wrong URL or a service not started is said within a second, not after the 5 s of
            # retries that ride out a restart once the session runs
            client.retry_seconds = 1.0
            client.me()
            client.retry_seconds = 5.0
            summary = session.run()
        except Unauthorized as exc:
            raise LabelstreamError(f"the review service at {url} refused the token ({exc.detail}); "
                                   "an admin creates one: labelstream review token add NAME") from None
        except Unavailable as exc:
            raise LabelstreamError(f"{exc.detail}; is it running? (labelstream run review)") from None
        finally:
            if console.is_terminal:
                console.set_alt_screen(False)
    print(f"{summary.reviewer}: {summary.answered} answered, {summary.skipped} skipped, {summary.undone} undone",
          file=sys.stderr)
    if summary.holding:
        print(f"{summary.holding}, which you held, could not be handed back: it returns to the queue when its "
              f"lease ends (within "
              f"{summary.lease_seconds:.0f} s)", file=sys.stderr)
