"""What a transaction carries: the offsets it commits and where a batch that did not commit starts again."""

from __future__ import annotations

from confluent_kafka import Message, TopicPartition

from labelstream.labeler.batch import Batch, first_offsets, next_offsets


def messages(*where: tuple[str, int, int]) -> list[Message]:
    return [Message(topic=topic, partition=partition, offset=offset) for topic, partition, offset in where]


def test_next_offsets_are_one_past_the_last_message_of_each_partition():
    batch = messages(("r", 0, 5), ("r", 1, 9), ("r", 0, 7), ("r", 0, 6), ("s", 0, 2))
    offsets = sorted((p.topic, p.partition, p.offset) for p in next_offsets(batch))
    assert offsets == [("r", 0, 8), ("r", 1, 10), ("s", 0, 3)]
    assert all(isinstance(p, TopicPartition) for p in next_offsets(batch))


def test_first_offsets_are_the_lowest_of_each_partition_in_any_order():
    batch = messages(("r", 0, 7), ("r", 1, 9), ("r", 0, 5), ("r", 1, 3))
    assert first_offsets(batch) == {("r", 0): 5, ("r", 1): 3}
    assert first_offsets([]) == {} and next_offsets([]) == []


def test_a_batch_adds_messages_and_outputs_in_step():
    batch = Batch()
    batch.add(messages(("r", 0, 1)), ["a"])
    batch.add(messages(("r", 0, 2), ("r", 0, 3)), ["b", "c"])
    assert [m.offset() for m in batch.messages] == [1, 2, 3] and batch.outputs == ["a", "b", "c"]
