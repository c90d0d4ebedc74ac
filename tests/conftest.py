"""Shared fixtures: the real Kafka broker and Redis of the local stack, and isolated topics per test.

Integration tests need ``make up`` (or ``deploy/stack.sh start``); they fail,
never skip, when the broker or Redis is not there.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labelstream.settings import Settings, load_settings
from stack_support import STACK_OUTAGE_ENV, unique_settings

#: fixtures that reach the real broker or Redis: a test using one is marked integration (or faults)
STACK_FIXTURES = {"kafka_up", "redis_up", "settings_factory", "stack_settings", "cli_env"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers say what a test needs: one that uses the stack without ``integration``/``faults`` is an error."""
    unmarked = [
        item.nodeid for item in items
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ()))
        and not any(item.get_closest_marker(m) for m in ("integration", "faults"))
    ]
    if unmarked:
        raise pytest.UsageError("tests that use the broker or Redis need @pytest.mark.integration: " + ", ".join(unmarked))


REPO = Path(__file__).resolve().parents[1]
_LITTER_BEFORE = pytest.StashKey[set[str]]()


def _untracked() -> set[str]:
    """Untracked, not ignored paths of the checkout, empty directories included (``git status`` hides those)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "--directory"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return set()  # not a git checkout: nothing to compare
    return set(listed.stdout.splitlines())


def _xdist_worker(config: pytest.Config) -> bool:
    """A pytest-xdist worker: the controller checks the checkout once all of them are done."""
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _xdist_worker(session.config):
        session.config.stash[_LITTER_BEFORE] = _untracked()


_LITTER = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite leaves the checkout as it found it: a test or a service it started writes under ``tmp_path``."""
    before = session.config.stash.get(_LITTER_BEFORE, None)
    if before is None:
        return
    litter = sorted(_untracked() - before)
    session.config.stash[_LITTER] = litter
    if litter:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    litter = terminalreporter.config.stash.get(_LITTER, [])
    if litter:
        terminalreporter.section("files left in the checkout", red=True)
        terminalreporter.write_line(
            "error: the tests left new files in the checkout: " + ", ".join(litter) + " (write them under tmp_path)",
            red=True,
        )


@pytest.fixture(autouse=True)
def _may_stop_the_stack(request: pytest.FixtureRequest) -> Iterator[None]:
    """Only a test marked ``stack_outage`` may stop the shared broker or Redis (fault_harness.stack checks):
    ``make test`` runs those alone, after the parallel part, so no other test sees the outage."""
    os.environ[STACK_OUTAGE_ENV] = "1" if request.node.get_closest_marker("stack_outage") else "0"
    yield
    os.environ.pop(STACK_OUTAGE_ENV, None)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """Settings from the environment (CI points them at its stack).

    No review budget: the service tests were written when that was the default (it is 0.3 now), and
    many count on every cold-start record reaching review; a test that wants a budget sets one.
    """
    return load_settings(policy={"review_budget_share": None})


@pytest.fixture(scope="session")
def kafka_up(base_settings: Settings) -> Settings:
    """The broker answers; fail with a clear message otherwise."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": base_settings.kafka.bootstrap_servers})
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Kafka at {base_settings.kafka.bootstrap_servers} is not reachable ({exc}); run `make up`")
    return base_settings


@pytest.fixture(scope="session")
def redis_up(base_settings: Settings) -> Settings:
    import redis

    try:
        redis.Redis.from_url(base_settings.redis.url).ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis at {base_settings.redis.url} is not reachable ({exc}); run `make up`")
    return base_settings


@pytest.fixture(scope="session")
def topic_deleter(kafka_up: Settings) -> Iterator[Callable[[Settings], None]]:
    """Deletes a finished test's topics in the background (one admin client; nothing waits per test).

    A broker that keeps every test's topics holds thousands of partitions by the fault tests, and a
    broker restart then takes minutes (measured: 3755 partitions, 66 s to listen and 40 s more before
    its coordinators answer); the outage and crash tests restart the shared broker.
    """
    from confluent_kafka.admin import AdminClient

    from labelstream.kafka.topics import topic_specs

    admin = AdminClient({"bootstrap.servers": kafka_up.kafka.bootstrap_servers, "log_level": 0})
    futures: list = []

    def delete(settings: Settings) -> None:
        futures.extend(admin.delete_topics([spec.name for spec in topic_specs(settings)], operation_timeout=30).values())

    yield delete
    import concurrent.futures

    concurrent.futures.wait(futures, timeout=30)  # unknown topics (never created) fail: nothing to delete


@pytest.fixture
def settings_factory(kafka_up: Settings, topic_deleter: Callable[[Settings], None]) -> Iterator[Callable[..., Settings]]:
    """Make settings with fresh topic names (created on the broker) for a test; deleted after it."""
    from labelstream.kafka.topics import create_topics

    made: list[Settings] = []

    def make(partitions: int = 3, create: bool = True, **sections: dict) -> Settings:
        settings = unique_settings(kafka_up, partitions, **sections)
        made.append(settings)
        if create:
            create_topics(settings)
        return settings

    yield make
    for settings in made:
        topic_deleter(settings)


@pytest.fixture
def stack_settings(settings_factory: Callable[..., Settings]) -> Settings:
    """Settings with this test's own topics, already created."""
    return settings_factory()


@pytest.fixture
def cli_env(stack_settings: Settings) -> Iterator[dict[str, str]]:
    """Environment for running the ``labelstream`` command against this test's topics."""
    env = dict(os.environ)
    env["LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS"] = stack_settings.kafka.bootstrap_servers
    env["LABELSTREAM_REDIS__URL"] = stack_settings.redis.url
    env["LABELSTREAM_REDIS__KEY_PREFIX"] = stack_settings.redis.key_prefix  # its own keys: not the stack's models, tokens
    for role, name in stack_settings.topics.data_topics().items():
        env[f"LABELSTREAM_TOPICS__{role.upper()}"] = name
    env["LABELSTREAM_TOPICS__PARTITIONS"] = str(stack_settings.topics.partitions)
    yield env
