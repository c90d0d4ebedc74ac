"""The core imports nothing from Kafka, Redis or faust (DESIGN.md: services wrap it)."""

import subprocess
import sys

BLOCKER = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {'confluent_kafka', 'redis', 'faust', 'aiokafka', 'mode', 'prometheus_client'}:
            raise ImportError('core must not import ' + name)
sys.meta_path.insert(0, Block())
import pkgutil, importlib, labelstream.core as core
for module in pkgutil.walk_packages(core.__path__, 'labelstream.core.'):
    importlib.import_module(module.name)
print('ok')
"""


def test_core_imports_without_kafka_redis_or_faust():
    result = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
