"""librdkafka (confluent-kafka) configuration from settings.

Order of precedence, as in quix-streams: our defaults, then the user's
``kafka.client_extra``, then the keys a component must force (e.g. the
transactional id of a labeler).

>>> from labelstream.settings import KafkaSettings
>>> conf = producer_config(KafkaSettings(bootstrap_servers="b:9092", client_extra={"linger.ms": "20"}))
>>> conf["bootstrap.servers"], conf["linger.ms"], conf["acks"]
('b:9092', '20', 'all')
"""

from __future__ import annotations

from typing import Any

from labelstream.settings import KafkaSettings


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """Connection and security properties shared by every confluent-kafka client."""
    conf: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        conf["sasl.mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_username:
        conf["sasl.username"] = kafka.sasl_username
    if kafka.sasl_password:
        conf["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_cafile:
        conf["ssl.ca.location"] = str(kafka.ssl_cafile)
    if kafka.ssl_certfile:
        conf["ssl.certificate.location"] = str(kafka.ssl_certfile)
    if kafka.ssl_keyfile:
        conf["ssl.key.location"] = str(kafka.ssl_keyfile)
    if kafka.ssl_key_password:
        conf["ssl.key.password"] = kafka.ssl_key_password.get_secret_value()
    return conf


def producer_config(kafka: KafkaSettings, **forced: Any) -> dict[str, Any]:
    """A producer: idempotent, batched (linger 5 ms), lz4-compressed."""
    defaults = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        "compression.type": "lz4",
        "message.max.bytes": 2_000_000,
    }
    return {**defaults, **client_config(kafka), **kafka.client_extra, **forced}


def consumer_config(kafka: KafkaSettings, group_id: str, **forced: Any) -> dict[str, Any]:
    """A consumer that reads committed data only and commits explicitly."""
    defaults = {
        "group.id": group_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        # After a broker restart the group coordinator reloads the group with its old member and waits for that
        # member's session to expire before a rejoining consumer gets partitions: librdkafka's default 45 s made
        # the review service's ingest resume ~35 s after the labeler's (10 s, as here). Heartbeats are sent by
        # librdkafka's own thread, so a busy Python loop does not miss them.
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 3_000,
    }
    return {**defaults, **client_config(kafka), **kafka.client_extra, **forced}


def admin_config(kafka: KafkaSettings) -> dict[str, Any]:
    """An admin client."""
    return {**client_config(kafka), **kafka.client_extra}


def faust_broker_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """``broker`` and ``broker_credentials`` for a faust (aiokafka) app, with the same security settings."""
    import ssl

    import faust

    from labelstream.errors import ConfigError

    brokers = [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",") if server.strip()]
    settings: dict[str, Any] = {"broker": brokers, "broker_credentials": None}
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
        if kafka.ssl_certfile:
            key_password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
            context.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None, key_password)
    if kafka.security_protocol == "SSL":
        settings["broker_credentials"] = faust.SSLCredentials(context)
    elif kafka.security_protocol.startswith("SASL"):
        if kafka.sasl_mechanism == "OAUTHBEARER":
            raise ConfigError("kafka.sasl_mechanism OAUTHBEARER is not supported by the learner (faust); use PLAIN or SCRAM")
        if kafka.sasl_mechanism == "GSSAPI":
            settings["broker_credentials"] = faust.GSSAPICredentials(ssl_context=context)
        else:
            settings["broker_credentials"] = faust.SASLCredentials(
                username=kafka.sasl_username,
                password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
                ssl_context=context,
                mechanism=kafka.sasl_mechanism,
            )
    return settings
