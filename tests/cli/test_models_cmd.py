"""``labelstream models bootstrap / export / import`` against the real Redis and Kafka."""

from __future__ import annotations

import json
import pickle
import uuid

import pytest
from typer.testing import CliRunner

from labelstream.cli.main import app
from labelstream.core.bootstrap import split
from labelstream.core.build import build_engine
from labelstream.core.decode import RecordDecoder
from labelstream.datafile import open_rows
from labelstream.errors import LabelstreamError
from labelstream.learner.context import LearnerContext
from labelstream.learner.pending import Pending, RedisRetry
from labelstream.learner.versions import VersionPublisher
from labelstream.metrics import Metrics
from labelstream.settings import load_settings
from labelstream.store.connection import connect
from labelstream.store.models import ModelRegistry
from labelstream.store.recheck_answers import RecheckAnswers

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def env(cli_env):
    return {**cli_env, "LABELSTREAM_MODEL__MODEL_NAME": f"m{uuid.uuid4().hex[:8]}"}


def registry(env) -> ModelRegistry:
    settings = load_settings(model={"model_name": env["LABELSTREAM_MODEL__MODEL_NAME"]},
                             redis={"url": env["LABELSTREAM_REDIS__URL"], "key_prefix": env["LABELSTREAM_REDIS__KEY_PREFIX"]})
    return ModelRegistry.from_settings(connect(settings.redis), settings)


def test_bootstrap_publishes_version_1_then_export_and_import_round_trip(env, tmp_path):
    data = tmp_path / "seed.csv"
    assert runner.invoke(app, ["datasets", "export", "sea", str(data), "--size", "2000"]).exit_code == 0
    result = runner.invoke(app, ["models", "bootstrap", "--data", str(data), "--label-column", "label",
                                 "--id-column", "id", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == 1 and summary["trained"] + summary["held_out"] == 2000
    assert summary["evidence"] == summary["held_out"] and summary["holdout_accuracy"] > 0.9
    v1 = registry(env).load_latest()
    assert v1.version == 1 and v1.model.n_learned == summary["trained"] and v1.metrics["adopt"] == 1.0
    assert v1.policy_state  # the calibration travels with the version

    again = runner.invoke(app, ["models", "bootstrap", "--data", str(data), "--label-column", "label"], env=env)
    assert isinstance(again.exception, LabelstreamError) and "--force" in str(again.exception)

    exported = tmp_path / "model.lsm"
    assert runner.invoke(app, ["models", "export", str(exported)], env=env).exit_code == 0
    imported = runner.invoke(app, ["models", "import", str(exported), "--force"], env=env)
    assert imported.exit_code == 0, imported.output
    v2 = registry(env).load_latest()
    assert v2.version == 2 and v2.metrics["imported"] == 1.0 and v2.model.n_learned == v1.model.n_learned


def test_rollback_to_a_version_not_kept_says_which_are(env):
    result = runner.invoke(app, ["models", "rollback", "99"], env=env)
    assert isinstance(result.exception, LabelstreamError)
    assert str(result.exception) == (f"model {env['LABELSTREAM_MODEL__MODEL_NAME']} has no version 99 (kept: none yet); "
                                     "see labelstream models list")  # was "(kept: [])"


@pytest.mark.parametrize("learner_at", ["started after", "running during"])
def test_a_learner_rechecks_a_bootstrapped_version_on_its_held_out_answers(env, tmp_path, learner_at):
    """Started after the bootstrap (restore) or running while it publishes (adopted before its next publish)."""
    data = tmp_path / "seed.csv"
    assert runner.invoke(app, ["datasets", "export", "sea", str(data), "--size", "1000"]).exit_code == 0
    settings = load_settings(
        model={"model_name": env["LABELSTREAM_MODEL__MODEL_NAME"]},
        redis={"url": env["LABELSTREAM_REDIS__URL"], "key_prefix": env["LABELSTREAM_REDIS__KEY_PREFIX"]},
    )

    def a_learner():
        client = connect(settings.redis)
        engine = build_engine(settings)
        context = LearnerContext(engine, Pending(), RedisRetry(), Metrics.from_settings("learner", settings.metrics), events=None)
        return engine, VersionPublisher(settings, context, ModelRegistry.from_settings(client, settings),
                                        RecheckAnswers.from_settings(client, settings), versions_topic=None)

    if learner_at == "running during":
        engine, learner = a_learner()
    result = runner.invoke(app, ["models", "bootstrap", "--data", str(data), "--label-column", "label",
                                 "--id-column", "id", "--seed", "3", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    if learner_at == "running during":
        learner._adopt_rollback()  # what a running learner does before its next publish
    else:
        engine, learner = a_learner()
        learner.restore()  # what a learner does when it starts

    kept = engine.policy.kept_answers()
    decoder = RecordDecoder.from_limits(settings.limits)
    rows = ((decoder.validate(row.payload), row.label) for row in open_rows(data, label_column="label", id_column="id"))
    held_out = [(engine.model_input(record), label) for hold, record, label in split(rows, 0.2, 3) if hold]
    assert engine.model_version == 1 and summary["kept"] == summary["held_out"] == len(held_out) > 100
    assert kept["answers"] == [label for _, label in held_out]  # the held-out rows, in file order
    assert kept["x"] == [x for x, _ in held_out]


def test_import_refuses_tampered_and_unsigned_files_unless_trusted(env, tmp_path):
    data = tmp_path / "seed.csv"
    assert runner.invoke(app, ["datasets", "export", "sea", str(data), "--size", "300"]).exit_code == 0
    signed = tmp_path / "v1.lsm"
    made = runner.invoke(app, ["models", "bootstrap", "--data", str(data), "--label-column", "label", "--out", str(signed)], env=env)
    assert made.exit_code == 0, made.output
    assert registry(env).latest_version() is None  # --out publishes nothing

    tampered = tmp_path / "tampered.lsm"
    blob = bytearray(signed.read_bytes())
    blob[-20] ^= 1
    tampered.write_bytes(bytes(blob))
    refused = runner.invoke(app, ["models", "import", str(tampered)], env=env)
    assert isinstance(refused.exception, LabelstreamError)
    assert "signature does not match" in str(refused.exception) and "--trust" in str(refused.exception)

    from labelstream.core.snapshot import load_snapshot

    key = b"dev-only-insecure-key"
    unsigned = tmp_path / "unsigned.pkl"
    unsigned.write_bytes(pickle.dumps(load_snapshot(signed.read_bytes(), key)))
    refused = runner.invoke(app, ["models", "import", str(unsigned)], env=env)
    assert isinstance(refused.exception, LabelstreamError) and "missing signature" in str(refused.exception)
    assert registry(env).latest_version() is None

    trusted = runner.invoke(app, ["models", "import", str(unsigned), "--trust"], env=env)
    assert trusted.exit_code == 0, trusted.output
    assert "unsigned" in trusted.output and registry(env).latest_version() == 1
