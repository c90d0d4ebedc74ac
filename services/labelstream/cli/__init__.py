"""The ``labelstream`` command line."""
