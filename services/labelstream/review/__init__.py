"""The review service: people answer the records the labeler sent to review.

Parts, one a module:

- :mod:`~labelstream.review.queue`: the work queue in Redis (priority then age),
  leases, answers, skips, undo; every state change is one Lua script.
- :mod:`~labelstream.review.ingest`: ``review`` topic -> queue (stored before the
  offset is committed).
- :mod:`~labelstream.review.outbox`: queue -> ``corrections``; each answer
  published once (the outbox and its recovery).
- :mod:`~labelstream.review.consolidation`: overlap items -> one consensus label.
- :mod:`~labelstream.review.auth`, :mod:`~labelstream.review.labelset`,
  :mod:`~labelstream.review.guidelines`: tokens, the label set, the guidelines.
- :mod:`~labelstream.review.api` (FastAPI) and ``static/`` (the web page),
  :mod:`~labelstream.review.service` (``labelstream run review``).

This module imports nothing, so that the learner and the CLI can use the label
set and the tokens without loading the web stack.
"""
