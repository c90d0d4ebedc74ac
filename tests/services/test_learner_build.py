"""A learner built (its faust app not run): its parts share one context, each topic is in place from the start."""

from __future__ import annotations

import pytest

from labelstream.learner import Learner

pytestmark = pytest.mark.integration


def test_the_parts_share_the_learners_collaborators_and_the_versions_topic_is_given_at_construction(settings_factory):
    settings = settings_factory(policy={"version_change_reset": 0.05})
    learner = Learner(settings)
    assert learner.versions.versions_topic is learner.versions_topic
    assert learner.versions_topic.get_topic_name() == settings.topics.model_versions
    for part in (learner.versions, learner.answers):
        assert part.engine is learner.engine and part.pending is learner.pending and part.retry is learner.redis
        assert part.metrics is learner.metrics and part.events is learner.events
        assert part.version_check is learner.version_check is not None
    assert learner.answers.labels_topic is learner.labels_topic and learner.answers.hold.review_topic is learner.review_topic
    agents = {agent.name for agent in learner.app.agents.values()}
    assert {"learn-corrections"} <= {name.rsplit(".", 1)[-1] for name in agents}, agents
