"""The Kafka edge: client configuration, topic administration, and produce/consume helpers.

Nothing in ``labelstream.core`` imports this package.
"""
