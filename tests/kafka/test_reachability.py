"""Kafka down is said at once, in one line naming the fix; a listener that is no broker, after a short timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from labelstream.errors import ServiceUnavailable
from labelstream.kafka.reachability import METADATA_TIMEOUT, require_kafka, unreachable_reason
from labelstream.settings import KafkaSettings
from stack_support import closed_port


def test_nothing_listening_is_unreachable_without_waiting_for_a_metadata_timeout():
    kafka = KafkaSettings(bootstrap_servers=f"localhost:{closed_port()},127.0.0.1:{closed_port()}")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        require_kafka(kafka)
    # the metadata route would take METADATA_TIMEOUT (librdkafka retries a refused connection until then)
    assert time.monotonic() - started < METADATA_TIMEOUT
    message = str(caught.value)
    assert "\n" not in message and "unreachable (nothing accepts a connection there)" in message
    assert "make up" in message and "LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS" in message


def test_a_listener_that_is_not_a_broker_is_unreachable_after_the_metadata_timeout():
    with socket.socket() as server:  # accepts TCP, never answers a Kafka request
        server.bind(("127.0.0.1", 0))
        server.listen()
        kafka = KafkaSettings(bootstrap_servers=f"localhost:{server.getsockname()[1]}")
        reason = unreachable_reason(kafka, metadata_timeout=1.0)
    assert reason is not None and reason.startswith("no answer to a metadata request in 1 s")


@pytest.mark.integration
def test_a_running_broker_is_reachable(kafka_up):
    assert unreachable_reason(kafka_up.kafka) is None


def test_produce_with_kafka_down_is_one_error_line_and_exit_2(tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("id,x\na,1\n")
    env = {**os.environ, "LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS": f"localhost:{closed_port()}"}
    result = subprocess.run([sys.executable, "-m", "labelstream", "produce", str(data)], capture_output=True, text=True,
                            env=env, check=False, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: Kafka at localhost:"), result.stderr
    assert "make up" in lines[0]
    assert not (tmp_path / "rows.csv.produce-state.json").exists()  # nothing was attempted, nothing to resume
