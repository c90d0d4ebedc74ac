import pytest
from confluent_kafka.admin import ConfigResource

from labelstream.kafka.topics import admin_client, create_topics, describe_topics
from stack_support import unique_settings

pytestmark = pytest.mark.integration


def test_create_is_idempotent_and_model_versions_is_compacted(kafka_up):
    settings = unique_settings(kafka_up, partitions=2)
    created, present = create_topics(settings)
    assert sorted(created) == sorted(settings.topics.data_topics().values()) and present == []
    created_again, present_again = create_topics(settings)
    assert created_again == [] and sorted(present_again) == sorted(created)

    admin = admin_client(settings)
    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topics.model_versions)
    config = admin.describe_configs([resource])[resource].result()
    assert config["cleanup.policy"].value == "compact"

    infos = {info.name: info for info in describe_topics(settings)}
    assert infos[settings.topics.records].partitions == 2
    assert infos[settings.topics.model_versions].partitions == 1
    assert infos[settings.topics.labels].cleanup_policy == "delete"


def test_describe_counts_messages_not_transaction_markers(stack_settings):
    """Three committed transactions of 5 records and one aborted: 15 messages, while the offsets span more."""
    from confluent_kafka import Producer

    topic = stack_settings.topics.labels
    producer = Producer({"bootstrap.servers": stack_settings.kafka.bootstrap_servers, "transactional.id": f"{topic}-test"})
    producer.init_transactions(30)
    for batch in range(4):
        producer.begin_transaction()
        for i in range(5):
            producer.produce(topic, key=f"{batch}-{i}".encode(), value=b"{}", partition=i % 3)
        producer.flush(10)
        if batch == 3:
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(30)

    infos = {info.role: info for info in describe_topics(stack_settings)}
    labels = infos["labels"]
    assert labels.messages == 15
    # each commit or abort leaves a marker in every partition it touched, and aborted records keep their offsets
    assert labels.offsets == 15 + 5 + 4 * 3
    assert infos["records"].messages == 0 and infos["records"].offsets == 0
    assert labels.retention_ms == stack_settings.topics.retention_ms

    assert {info.role: info.messages for info in describe_topics(stack_settings, count=False)}["labels"] is None
