"""Clients of the review API v1: the HTTP client, simulated reviewers and the terminal reviewer.

- :mod:`~labelstream.review_client.client`: :class:`ReviewClient`, the API as
  Python calls (httpx), with the API's errors as exceptions;
- :mod:`~labelstream.review_client.simulated`: ``labelstream run reviewer-sim
  --via-api``, reviewers that behave like people (think time, mistakes) and
  work the queue through the API;
- :mod:`~labelstream.review_client.terminal`: ``labelstream review --url URL
  --token T``, the review queue in a terminal.

Nothing here imports the review service: a client needs only the API's URL
and a token.
"""

from labelstream.review_client.client import (
    AnswerReceipt,
    LeaseLost,
    Rejected,
    ReviewApiError,
    ReviewClient,
    ReviewItem,
    Unauthorized,
    Unavailable,
)

__all__ = [
    "AnswerReceipt",
    "LeaseLost",
    "Rejected",
    "ReviewApiError",
    "ReviewClient",
    "ReviewItem",
    "Unauthorized",
    "Unavailable",
]
