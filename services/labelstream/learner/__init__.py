"""The learner (``labelstream run learner``): a faust agent on ``corrections`` that learns each human answer exactly once.

For each correction: join the record's features from Redis (unknown or expired
-> DLQ), learn, emit the human label to ``labels`` (``method=human``). Every
``publish_every_corrections`` corrections or ``publish_every_seconds`` it
publishes a model version: a signed snapshot in Redis, announced on
``model-versions``.

Exactly-once learning: a snapshot records, per corrections partition, the
next offset it has learned. Events are acked (so faust commits their offsets)
only once a snapshot holding them is published; on restart the learner
resumes from its latest snapshot and skips events it already holds. A crash
therefore replays exactly the corrections not in the last snapshot. The human
labels of replayed corrections may be emitted twice: same id, same label,
harmless by construction (at-least-once on that path). None is lost: a
snapshot is published only once the broker has confirmed every human label
and dead letter of the corrections it holds.

The recheck's answers (``policy.version_recheck``: the model inputs of the
generation's answered records, which each new version is re-tested on) are
stored beside each published version (:mod:`labelstream.store.recheck_answers`)
and read back on restart, so a restarted learner keeps validating its
thresholds instead of withdrawing them until new answers come.

Health: ``/livez`` says faust's event loop turns (a heartbeat timer; waiting
out an outage is alive, and so is idle); ``/readyz`` (and ``/healthz``) says
it can learn now: started, the broker answers a metadata request, Redis
answered its last call.

Corrections from the review service (``Correction.kind``): a label outside the
label set is dead-lettered (``unknown_label``); an ``answer`` is learned; an
``overlap`` answer is not learned alone, the ``consensus`` of its item is
(emitted with ``method=consensus``), so an overlap item is learned once (with
``policy.reviewer_accuracy_from_overlap`` its first two answers also teach the
policy's reviewer-accuracy bound, which ships with each model version, and its
first answer, not the consensus, is the policy's evidence); a
``retraction`` (a reviewer's undo) is not learned and changes nothing: the
answer it withdraws is already in the model (an online model cannot forget one
example), and the reviewer's new answer follows as a correction of its own, is
learned after it, and supersedes it on ``labels`` (the latest human label wins).
The new answer names the one it replaces (``supersedes``, set by the review
queue after an undo as after a correction), so the record's evidence, counted
with the first answer, is not counted again (``Correction.counted_before``; a
bet placed cannot be taken back) — on the held path below too.
A ``gold`` answer (a reviewer's answer to a gold item, a control item whose
label is known: :mod:`labelstream.review.gold`) is never learned, never
evidence and never looked up in the record store: a policy with ``learn_gold``
counts it toward the reviewers' accuracy (``correct``; shown with a proposal, also
whether it was right and taken, as ``model_right`` and ``agreed`` when its
``learn_gold`` takes them: :func:`~labelstream.learner.answers.gold_keywords`), and it is counted in
``labelstream_corrections_total`` as ``gold_right`` or ``gold_wrong``. One that a gold bound took is learned
state like an answer: acked only once a version holds it (acked without one, a learner killed before its next
version forgot it: a reviewer's gold answers lost, their bound back at 1).
A ``hold`` (the review service held a reviewer for low gold accuracy, or let
them claim again) reaches only the policy's ``hold_reviewer``: a gold bound
that counts per reviewer drops the held reviewer's gold answers
(docs/contract.md section 5, "Reviewer holds and the gold bound"); counted as
``reviewer_held`` or ``reviewer_released``.

Label-error detection (``label_errors.enabled``, docs/label-errors.md): an
``answer`` that a confident model contradicts (online confident learning,
:mod:`labelstream.core.label_errors`) is **held**: its evidence feeds the
policy at once, as any answer's does (holding it back would bias the
contract's evidence; not when it supersedes an answer already counted), but
the model does not learn it; the learner asks the review service for a second
review (a ``review`` request with reason ``disagreement`` and the flagged
answer) and learns the consensus of both answers when it comes, as model
training only (no second evidence). The hold
is written to Redis before the request is sent, so that a replayed answer is
held again, never learned alone as well; the request's delivery is confirmed
before any snapshot holds the answer's offset, so it is never lost.

Self-training (``self_training.enabled``, docs/self-training.md): a second
agent reads ``labels`` back; an automatic label (``auto``/``weak``) scored at
least ``self_training.min_confidence`` is joined with its features (the
labeler keeps those auto-labels in Redis when self-training is on) and
learned with weight ``self_training.weight``, while the policy's audits allow
(:mod:`labelstream.core.self_training`). Its offsets are in the snapshots
like the corrections', so a crash replays exactly the labels no version
holds. The learner reads uncommitted messages (faust): a label of a batch the
labeler redid after an aborted transaction is read twice and learned once (a
window of recent ids); one whose transaction never committed may be learned
(the model's own sure prediction, at a weight below 1).

The parts: :mod:`~labelstream.learner.service` (clients, the faust app, its
agents, health), :mod:`~labelstream.learner.answers` (one correction learned;
an answer's record is featurized once, :class:`~labelstream.learner.joined.ModelInput`),
:mod:`~labelstream.learner.second_review` (label-error holds),
:mod:`~labelstream.learner.versions` (restore, publish, ack),
:mod:`~labelstream.learner.self_training`, and
:mod:`~labelstream.learner.pending` (what the last version does not hold yet).
"""

from __future__ import annotations

from labelstream.learner.service import Learner, run_learner

__all__ = ["Learner", "run_learner"]
