"""Security: forged snapshots are never unpickled; Kafka security settings reach both clients; no secrets in logs."""

from __future__ import annotations

import os
import pickle
import ssl
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from labelstream.core.featurizer import Featurizer
from labelstream.core.model import OnlineModel
from labelstream.core.snapshot import MAGIC, ModelState, dump_snapshot, load_snapshot, sign
from labelstream.errors import ConfigError, SnapshotRejected
from labelstream.kafka.config import client_config, consumer_config, faust_broker_settings, producer_config
from labelstream.processes import service
from labelstream.settings import KafkaSettings, load_settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry

pytestmark = pytest.mark.faults

KEY = b"the-real-key"


class Exploit:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker) -> None:  # noqa: ANN001
        self.marker = str(marker)

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def forged_blobs(marker) -> dict[str, bytes]:  # noqa: ANN001
    payload = pickle.dumps(Exploit(marker))
    return {
        "raw pickle": payload,
        "magic, zero signature": MAGIC + b"\x00" * 32 + payload,
        "signed with another key": sign(payload, b"attacker-key"),
        "valid signature, payload swapped": sign(b"harmless", KEY)[: len(MAGIC) + 32] + payload,
        "truncated": MAGIC + b"\x01" * 10,
        "empty": b"",
    }


@pytest.mark.parametrize("case", list(forged_blobs("x")))
def test_a_forged_snapshot_is_refused_before_unpickling(tmp_path, case):
    marker = tmp_path / "pwned"
    with pytest.raises(SnapshotRejected):
        load_snapshot(forged_blobs(marker)[case], KEY)
    assert not marker.exists(), "the forged pickle was unpickled"


def test_a_signed_snapshot_round_trips_and_a_signed_non_state_is_refused():
    state = ModelState(model=OnlineModel(), featurizer=Featurizer(), version=3, source_offsets={"c:0": 7})
    assert load_snapshot(dump_snapshot(state, KEY), KEY).source_offsets == {"c:0": 7}
    with pytest.raises(SnapshotRejected, match="not a ModelState"):
        load_snapshot(sign(pickle.dumps({"model": 1}), KEY), KEY)


def test_the_registry_refuses_a_forged_snapshot_in_redis(stack_settings, tmp_path):
    marker = tmp_path / "pwned"
    registry = ModelRegistry(connect(stack_settings.redis), stack_settings.redis.key_prefix, "m", KEY)
    good = registry.publish(ModelState(model=OnlineModel(), featurizer=Featurizer(), version=1))
    assert registry.load(good.version).version == 1
    for version, blob in enumerate(forged_blobs(marker).values(), start=2):
        registry.client.set(registry.snapshot_key(version), blob)
        registry.client.set(f"{stack_settings.redis.key_prefix}:model:m:latest", version)
        with pytest.raises(SnapshotRejected):
            registry.load(version)
        with pytest.raises(SnapshotRejected):
            registry.load_latest()
    assert not marker.exists(), "the forged pickle was unpickled"


# -- Kafka client security ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed CA/cert and its key (openssl), as a broker's client would be given."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def test_sasl_ssl_settings_reach_librdkafka_and_aiokafka_alike(tls_files):
    cert, _key = tls_files
    kafka = KafkaSettings(
        bootstrap_servers="broker1:9093,broker2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="labeler",
        sasl_password="s3cret-sasl",
        ssl_cafile=cert,
    )
    conf = client_config(kafka)
    assert conf == {
        "bootstrap.servers": "broker1:9093,broker2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "labeler",
        "sasl.password": "s3cret-sasl",
        "ssl.ca.location": str(cert),
    }
    # librdkafka accepts every property (it validates names and values when a client is built).
    Producer(producer_config(kafka)).flush(0)
    Consumer(consumer_config(kafka, "g")).close()

    faust_settings = faust_broker_settings(kafka)
    assert faust_settings["broker"] == ["kafka://broker1:9093", "kafka://broker2:9093"]
    auth = credentials_to_aiokafka_auth(faust_settings["broker_credentials"])
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("labeler", "s3cret-sasl")
    context: ssl.SSLContext = auth["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1, "the CA file was loaded"


def test_ssl_client_certificates_reach_both_clients(tls_files):
    cert, key = tls_files
    kafka = KafkaSettings(security_protocol="SSL", ssl_cafile=cert, ssl_certfile=cert, ssl_keyfile=key)
    conf = client_config(kafka)
    assert conf["security.protocol"] == "SSL"
    assert (conf["ssl.ca.location"], conf["ssl.certificate.location"], conf["ssl.key.location"]) == (str(cert), str(cert), str(key))
    Producer(producer_config(kafka)).flush(0)
    auth = credentials_to_aiokafka_auth(faust_broker_settings(kafka)["broker_credentials"])
    assert auth["security_protocol"] == "SSL"
    assert auth["ssl_context"].cert_store_stats()["x509_ca"] == 1


def test_sasl_plaintext_and_plaintext():
    kafka = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    auth = credentials_to_aiokafka_auth(faust_broker_settings(kafka)["broker_credentials"])
    assert (auth["security_protocol"], auth["sasl_mechanism"], auth["ssl_context"]) == ("SASL_PLAINTEXT", "PLAIN", None)
    assert client_config(kafka)["security.protocol"] == "SASL_PLAINTEXT"
    assert faust_broker_settings(KafkaSettings())["broker_credentials"] is None
    assert client_config(KafkaSettings())["security.protocol"] == "PLAINTEXT"


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "sasl_mechanism is required"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "sasl_password are required"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "does not exist"),
        ({"security_protocol": "TLS"}, "security_protocol"),
    ],
)
def test_bad_security_settings_fail_at_start_naming_the_setting(kafka, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(kafka=kafka)
    assert "s3cret" not in str(error.value)


def test_the_learner_refuses_a_mechanism_faust_cannot_do():
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER")
    with pytest.raises(ConfigError, match="OAUTHBEARER"):
        faust_broker_settings(kafka)


# -- secrets in logs -------------------------------------------------------------------------------


def test_service_logs_hold_no_secrets(settings_factory, tmp_path):
    """Labeler and learner at debug level, with an HMAC key and a SASL password set: neither appears in their logs."""
    hmac_key, sasl_password = "hmac-Zq8vX2-never-log-me", "sasl-Pw7kR4-never-log-me"
    settings = settings_factory(learner={"snapshot_hmac_key": SecretStr(hmac_key)})
    # PLAINTEXT broker: the SASL credentials are configured (and passed to every client) but unused.
    settings = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"sasl_username": "svc", "sasl_password": SecretStr(sasl_password)})}
    )
    procs = [
        service(settings, "labeler", tmp_path, "--log-level", "debug", instance="0"),
        service(settings, "learner", tmp_path, "--log-level", "debug"),
    ]
    try:
        for proc in procs:
            proc.start().wait_until_serving(120)
        time.sleep(3)
    finally:
        for proc in procs:
            proc.stop(20)
    for proc in procs:
        log = proc.log_path.read_text(errors="replace")
        assert "labeler 0: metrics and health" in log or "learner: metrics and health" in log, log[-2000:]
        assert hmac_key not in log and sasl_password not in log, f"{proc.name} logged a secret"
    assert hmac_key not in repr(settings) and sasl_password not in repr(settings)
