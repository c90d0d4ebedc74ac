from confluent_kafka.admin import ConfigResource

from labelstream.kafka.topics import admin_client, create_topics, describe_topics
from stack_support import unique_settings


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
